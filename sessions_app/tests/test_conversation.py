from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from providers.tests.factories import make_model, make_provider
from sessions_app.conversation import build_request
from sessions_app.models import ChatSession, Message

pytestmark = pytest.mark.django_db


def test_old_turns_are_left_out_beyond_the_budget(user: User) -> None:
    model = make_model(make_provider(), settings={"context_tokens": 300, "system_prompt": "Hi"})
    session = ChatSession.objects.create(owner=user)
    for n in range(5):
        _, reply = session.start_turn(content=f"question {n} " + "x" * 400, model=model)
        Message.objects.filter(pk=reply.pk).update(status="done", content="answer " + "y" * 400)
    _, reply = session.start_turn(content="the last question", model=model)

    request, left_out = build_request(reply, reply.llm_model)

    assert request.messages[-1].content == "the last question"
    assert request.messages[0].role == "user"
    assert left_out == 11 - len(request.messages)
    assert left_out > 0
    assert "context_tokens" not in request.settings
    assert request.settings["system_prompt"] == "Hi"


def test_the_question_always_goes_even_over_budget(user: User) -> None:
    model = make_model(make_provider(), settings={"context_tokens": 256})
    session = ChatSession.objects.create(owner=user)
    _, reply = session.start_turn(content="z" * 5000, model=model)

    request, left_out = build_request(reply, reply.llm_model)

    assert [m.content for m in request.messages] == ["z" * 5000]
    assert left_out == 0


def test_failed_answers_without_text_are_not_sent(user: User) -> None:
    model = make_model(make_provider())
    session = ChatSession.objects.create(owner=user)
    _, failed = session.start_turn(content="Hi", model=model)
    Message.objects.filter(pk=failed.pk).update(status="error", content="")
    _, reply = session.start_turn(content="Hello?", model=model)

    request, _ = build_request(reply, reply.llm_model)

    assert [(m.role, m.content) for m in request.messages] == [
        ("user", "Hi"),
        ("user", "Hello?"),
    ]
