"""Searching one's own chats: titles and message text, full-text on PostgreSQL with a
substring fallback, a substring match on SQLite; excerpts escaped; a result opens its
message on its own branch."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from providers.models import LLMModel
from providers.tests.factories import make_model, make_provider
from sessions_app.models import ChatSession, Message
from sessions_app.search import search

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's full-text search"
)


@pytest.fixture
def model() -> LLMModel:
    return make_model(make_provider(), model_id="gpt-4o", display_name="GPT-4o")


def chat(owner: User, model: LLMModel, title: str, *turns: tuple[str, str]) -> ChatSession:
    session = ChatSession.objects.create(owner=owner, title=title)
    for question, answer in turns:
        _, reply = session.start_turn(content=question, model=model)
        Message.objects.filter(pk=reply.pk).update(status="done", content=answer)
    return session


def found(user: User, query: str) -> list[tuple[str, str]]:
    return [
        (hit.session.title, "".join(f"[{t}]" if m else t for t, m in hit.excerpt))
        for hit in search(user, query)
    ]


def test_titles_come_first_then_messages_with_the_words_marked(user: User, model: LLMModel) -> None:
    chat(user, model, "Otters", ("Where do otters live?", "Otters live in rivers."))
    chat(user, model, "Beavers", ("Do beavers eat fish?", "No, beavers eat bark."))

    hits = found(user, "otters")

    assert hits[0] == ("Otters", "[Otters]")
    assert sorted(hits[1:]) == [
        ("Otters", "Where do [otters] live?"),
        ("Otters", "[Otters] live in rivers."),
    ]
    assert found(user, "  ") == []


def test_only_ones_own_chats_are_searched(user: User, other_user: User, model: LLMModel) -> None:
    chat(other_user, model, "Secret plans", ("the launch code", "is 1234"))

    assert found(user, "launch") == []
    assert found(user, "Secret") == []


def test_a_long_message_is_cut_around_the_match(user: User, model: LLMModel) -> None:
    chat(user, model, "Long", ("x " * 200 + "needle here " + "y " * 200, "ok"))

    [(_, excerpt)] = found(user, "needle")

    assert excerpt.startswith("…x x")
    assert "[needle] here y" in excerpt
    assert excerpt.endswith("…")
    assert len(excerpt) < 160


def test_part_of_a_word_and_code_are_found_on_every_database(user: User, model: LLMModel) -> None:
    chat(user, model, "Errors", ("Why ECONNREFUSED on connect_db()?", "The port is closed."))

    assert found(user, "connrefused") == [("Errors", "Why E[CONNREFUSED] on connect_db()?")]
    assert [e for _, e in found(user, "connect_db(")] == ["Why ECONNREFUSED on [connect_db(])?"]


@on_postgresql
def test_postgresql_matches_words_anywhere_and_ranks_them(user: User, model: LLMModel) -> None:
    chat(user, model, "Trip", ("plan a trip to Lisbon in May", "Lisbon in May is warm"))
    chat(user, model, "Other", ("May I ask", "sure"))

    hits = found(user, "May Lisbon")  # both words, in any order, not as one string

    assert [title for title, _ in hits] == ["Trip", "Trip"]
    assert all("[Lisbon]" in excerpt and "[May]" in excerpt for _, excerpt in hits)
    assert found(user, '"Lisbon in May" -warm') == [("Trip", "plan a trip to [Lisbon] [in] [May]")]


def test_results_are_escaped_and_link_to_the_message(
    client: Client, user: User, model: LLMModel
) -> None:
    session = chat(user, model, "<b>Hostile</b>", ("<script>alert(1)</script> hostile", "ok"))
    question = session.messages.get(role="user")
    client.force_login(user)

    html = client.get(
        reverse("sessions_app:search"), {"q": "hostile"}, headers={"HX-Request": "true"}
    ).content.decode()

    assert "<script>" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>hostile</mark>" in html
    link = f"{session.get_absolute_url()}?message={question.public_id}#message-{question.public_id}"
    assert f'href="{link}"' in html
    page = client.get(reverse("sessions_app:search"), {"q": "hostile"}).content.decode()
    assert 'id="composer"' in page  # without JS: the chat page with the results
    assert 'value="hostile"' in page


def test_opening_a_result_on_another_branch_shows_that_branch(
    client: Client, user: User, model: LLMModel
) -> None:
    session = chat(user, model, "Fruit", ("Name a fruit", "Apple"))
    first = session.messages.get(content="Apple")
    again = session.answer_again(first, model=model)
    Message.objects.filter(pk=again.pk).update(status="done", content="Pear")
    client.force_login(user)

    page = client.get(session.get_absolute_url(), {"message": first.public_id}).content.decode()

    assert "Apple" in page
    assert "Pear" not in page
    session.refresh_from_db()
    assert session.current_leaf == first  # and the chat continues from there
    bad = client.get(session.get_absolute_url(), {"message": "not-a-uuid"})
    assert bad.status_code == 200
