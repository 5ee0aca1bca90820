"""A chat's export: Markdown of the branch shown with each answer's audit line, JSON of
every message of every branch with the whole audit, and nothing secret in either."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from providers.models import LLMModel
from providers.tests.factories import OPENAI_KEY, make_model, make_provider
from sessions_app.models import ChatSession, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def model() -> LLMModel:
    return make_model(make_provider(name="OpenAI"), model_id="gpt-4o", display_name="GPT-4o")


@pytest.fixture
def alice(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def answered(message: Message, content: str, **audit: object) -> Message:
    fields = {"status": "done", "content": content, "latency_ms": 900, "ttft_ms": 120} | audit
    Message.objects.filter(pk=message.pk).update(**fields)
    message.refresh_from_db()
    return message


@pytest.fixture
def chat(user: User, model: LLMModel) -> ChatSession:
    """ "Plan a trip" answered twice (the second shown), then a stopped answer."""
    session = ChatSession.objects.create(
        owner=user, title='Plan a "trip" / ../etc', system_prompt="Be brief."
    )
    _, first = session.start_turn(content="Plan a trip", model=model)
    answered(first, "Go to Rome.", input_tokens=12, output_tokens=4, cost=Decimal("0.0012"))
    again = session.answer_again(first, model=model)
    answered(again, "Go to **Lisbon**.", input_tokens=12, output_tokens=5)
    _, stopped = session.start_turn(content="How long?", model=model)
    answered(stopped, "Three", status="stopped", error="Stopped by you.")
    session.refresh_from_db()
    return session


def download(alice: Client, session: ChatSession, extension: str):
    return alice.get(reverse(f"sessions_app:export_{extension}", args=[session.public_id]))


def test_markdown_has_the_branch_shown_with_each_answers_audit(
    alice: Client, chat: ChatSession
) -> None:
    response = download(alice, chat, "md")

    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="plan-a-trip-etc-{chat.public_id.hex[:8]}.md"'
    )
    text = response.content.decode()
    assert text.startswith('# Plan a "trip" / ../etc\n')
    assert "System prompt of this chat:\n\n> Be brief." in text
    assert "## You\n\nPlan a trip" in text
    assert (
        "## GPT-4o\n\n*model `gpt-4o` · provider OpenAI · first token 120 ms · total 900 ms"
        " · tokens 12 in / 5 out · with the chat's system prompt*\n\nGo to **Lisbon**." in text
    )
    assert "Go to Rome." not in text  # the other version: in the JSON
    assert "> Stopped: Stopped by you." in text
    assert OPENAI_KEY not in text


def test_json_keeps_every_version_with_its_parent_and_the_whole_audit(
    alice: Client, chat: ChatSession
) -> None:
    response = download(alice, chat, "json")

    assert response["Content-Type"] == "application/json"
    document = json.loads(response.content)
    assert (document["format"], document["version"]) == ("switchboard-chat", 1)
    assert document["system_prompt"] == "Be brief."
    by_content = {m["content"]: m for m in document["messages"]}
    rome, lisbon = by_content["Go to Rome."], by_content["Go to **Lisbon**."]
    question = by_content["Plan a trip"]
    assert rome["parent"] == lisbon["parent"] == question["id"]
    assert by_content["How long?"]["parent"] == lisbon["id"]
    assert rome | {"id": None, "parent": None, "created_at": None} == {
        "id": None,
        "parent": None,
        "created_at": None,
        "role": "assistant",
        "content": "Go to Rome.",
        "status": "done",
        "model_id": "gpt-4o",
        "model": "GPT-4o",
        "provider": "OpenAI",
        "used_personal_key": False,
        "system_prompt": "Be brief.",
        "input_tokens": 12,
        "output_tokens": 4,
        "cached_tokens": None,
        "ttft_ms": 120,
        "latency_ms": 900,
        "cost": "0.00120000",
        "error": "",
        "turns_left_out": 0,
        "attempts": [],
    }
    shown = [m["id"] for m in document["messages"] if m["id"] in document["shown"]]
    assert len(shown) == 4
    assert rome["id"] not in document["shown"]
    assert OPENAI_KEY not in response.content.decode()


def test_another_persons_chat_is_not_exported(
    client: Client, other_user: User, chat: ChatSession
) -> None:
    client.force_login(other_user)

    assert download(client, chat, "md").status_code == 404
    assert download(client, chat, "json").status_code == 404


def test_an_empty_chat_exports_without_a_name(alice: Client, user: User) -> None:
    session = ChatSession.objects.create(owner=user, title="¿¿??")

    response = download(alice, session, "md")

    assert response["Content-Disposition"].endswith(f'"chat-{session.public_id.hex[:8]}.md"')
    assert "## You" not in response.content.decode()
