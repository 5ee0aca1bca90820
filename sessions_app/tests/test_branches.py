"""Versions and branches: answers asked for again and questions edited keep what came
before; what is shown, and what goes upstream, is one branch."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from providers.models import LLMModel
from providers.tests.factories import make_model, make_provider
from sessions_app.branches import Tree
from sessions_app.conversation import build_request
from sessions_app.models import AnswerAgainError, ChatSession, EditError, Message


@dataclass(frozen=True)
class Node:
    pk: int
    parent_id: int | None


def test_a_tree_shows_the_newest_versions_unless_told_otherwise() -> None:
    # 1 → 2 → 3 (→ 5), with 4 a second version of 2 (answered again), then 6 after 4.
    nodes = [Node(1, None), Node(2, 1), Node(3, 2), Node(4, 1), Node(5, 3), Node(6, 4)]
    tree = Tree(nodes)

    assert [n.pk for n in tree.branch(None)] == [1, 4, 6]
    assert [n.pk for n in tree.branch(nodes[4])] == [1, 2, 3, 5]
    assert tree.leaf_below(nodes[1]) == nodes[4]
    second = tree.versions(nodes[3])
    assert (second.position, second.count, second.previous, second.next) == (2, 2, nodes[1], None)
    assert tree.versions(nodes[0]).count == 1
    assert Tree([]).branch(None) == []


pytestmark = pytest.mark.django_db


@pytest.fixture
def model() -> LLMModel:
    return make_model(make_provider(), model_id="gpt-4o")


def finish(message: Message, content: str, status: str = "done") -> Message:
    Message.objects.filter(pk=message.pk).update(status=status, content=content)
    message.refresh_from_db()
    return message


def shown(session: ChatSession) -> list[tuple[str, str]]:
    session.refresh_from_db()
    return [
        (m.content, f"{m.versions.position}/{m.versions.count}") for m in session.messages_to_show()
    ]


def sent(reply: Message) -> list[tuple[str, str]]:
    request, _ = build_request(reply, reply.llm_model)
    return [(m.role, m.content) for m in request.messages]


def test_answers_asked_for_again_are_versions_and_any_can_be_shown(
    user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    _, first = session.start_turn(content="Hi", model=model)
    finish(first, "Hello!")
    second = finish(session.answer_again(first, model=model), "Hi there!")

    assert shown(session) == [("Hi", "1/1"), ("Hi there!", "2/2")]

    session.show(first)
    assert shown(session) == [("Hi", "1/1"), ("Hello!", "1/2")]
    # The chat continues from the version shown, and only that one goes upstream.
    _, reply = session.start_turn(content="And you?", model=model)
    assert sent(reply) == [("user", "Hi"), ("assistant", "Hello!"), ("user", "And you?")]
    assert second.pk in session.messages.values_list("pk", flat=True)


def test_an_edited_question_branches_off_and_the_old_branch_stays_reachable(
    user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    question, first = session.start_turn(content="Name a colour", model=model)
    finish(first, "Red")
    _, second = session.start_turn(content="Another", model=model)
    finish(second, "Blue")

    edited, reply = session.edit(question, content="Name a fruit", model=model)

    assert sent(reply) == [("user", "Name a fruit")]
    finish(reply, "Apple")
    assert shown(session) == [("Name a fruit", "2/2"), ("Apple", "1/1")]
    session.show(question)  # the old branch comes back whole, down to its last answer
    assert shown(session) == [
        ("Name a colour", "1/2"),
        ("Red", "1/1"),
        ("Another", "1/1"),
        ("Blue", "1/1"),
    ]
    session.show(edited)
    assert shown(session)[-1] == ("Apple", "1/1")


def test_a_later_question_after_an_edit_goes_upstream_with_the_edited_branch_only(
    user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    question, first = session.start_turn(content="One", model=model)
    finish(first, "Uno")
    _, reply = session.edit(question, content="Two", model=model)
    finish(reply, "Dos")

    _, last = session.start_turn(content="Three", model=model)

    assert sent(last) == [("user", "Two"), ("assistant", "Dos"), ("user", "Three")]


def test_only_the_answer_the_chat_ends_at_can_be_answered_again(
    user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    _, first = session.start_turn(content="Hi", model=model)
    finish(first, "Hello!")
    _, second = session.start_turn(content="Again", model=model)

    with pytest.raises(AnswerAgainError):
        session.answer_again(first, model=model)  # a question follows it
    with pytest.raises(AnswerAgainError):
        session.answer_again(second, model=model)  # still pending
    finish(second, "Hello again!")
    assert session.answer_again(second, model=model).parent_id == second.parent_id


def test_only_a_question_can_be_edited(user: User, model: LLMModel) -> None:
    session = ChatSession.objects.create(owner=user)
    _, answer = session.start_turn(content="Hi", model=model)

    with pytest.raises(EditError):
        session.edit(answer, content="Hello", model=model)


def test_the_chats_system_prompt_goes_after_the_models_and_is_kept_on_each_answer(
    user: User,
) -> None:
    model = make_model(make_provider(), settings={"system_prompt": "You are terse."})
    session = ChatSession.objects.create(owner=user, system_prompt="Answer in French.")
    _, reply = session.start_turn(content="Hi", model=model)
    ChatSession.objects.filter(pk=session.pk).update(system_prompt="")
    _, later = session.start_turn(content="Bye", model=model)

    request, _ = build_request(reply, model)

    assert request.settings["system_prompt"] == "You are terse.\n\nAnswer in French."
    assert reply.system_prompt == "Answer in French."
    assert later.system_prompt == ""  # read under the lock, not from a stale copy
    assert build_request(later, model)[0].settings["system_prompt"] == "You are terse."


@pytest.mark.django_db(transaction=True)
def test_chats_from_before_branches_become_one_branch_with_regenerations_as_versions() -> None:
    executor = MigrationExecutor(connection)
    before = [("sessions_app", "0003_answer_cost")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    owner = old.get_model("auth", "User").objects.create(username="alice")
    session = old.get_model("sessions_app", "ChatSession").objects.create(owner_id=owner.pk)
    OldMessage = old.get_model("sessions_app", "Message")
    rows = [("user", "Hi"), ("assistant", "Hello"), ("assistant", "Hi there")]
    rows += [("user", "How are you?"), ("assistant", "Fine")]
    for role, content in rows:
        OldMessage.objects.create(session_id=session.pk, role=role, content=content, status="done")

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    migrated = ChatSession.objects.get(pk=session.pk)
    assert shown(migrated) == [
        ("Hi", "1/1"),
        ("Hi there", "2/2"),
        ("How are you?", "1/1"),
        ("Fine", "1/1"),
    ]
    hello = migrated.messages.get(content="Hello")
    migrated.show(hello)
    assert [content for content, _ in shown(migrated)] == ["Hi", "Hello"]


def url(name: str, session: ChatSession, message: Message | None = None) -> str:
    args = [session.public_id] + ([message.public_id] if message else [])
    return reverse(f"sessions_app:{name}", args=args)


@pytest.fixture
def alice(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_edit_without_js_shows_the_question_as_a_form_on_the_chat_page(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    question, reply = session.start_turn(content="Name a <colour>", model=model)
    finish(reply, "Red")

    page = alice.get(url("edit", session, question)).content.decode()

    assert 'id="composer"' in page  # the whole page, with the form in the question's place
    assert ">Name a &lt;colour&gt;</textarea>" in page
    response = alice.post(url("edit", session, question), {"content": "Name a fruit"})
    assert response.status_code == 302
    assert [m for m, _ in shown(session)] == ["Name a fruit", ""]
    assert session.messages.last().llm_model == model  # the chat's model, with no picker posted


def test_an_empty_edit_is_refused_in_place_and_nothing_is_saved(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    question, reply = session.start_turn(content="Hi", model=model)
    finish(reply, "Hello")

    response = alice.post(
        url("edit", session, question), {"content": "  ", "model": model.pk}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response["HX-Retarget"] == f"#message-{question.public_id} > .bubble"
    assert "Type a message first." in html
    assert '<form class="bubble user editing"' in html
    assert session.messages.count() == 2


def test_another_persons_question_cannot_be_edited_or_shown(
    client: Client, user: User, other_user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    question, _ = session.start_turn(content="Hi", model=model)
    client.force_login(other_user)

    assert client.get(url("edit", session, question)).status_code == 404
    assert client.post(url("edit", session, question), {"content": "x"}).status_code == 404
    assert client.post(url("show", session, question)).status_code == 404
    assert session.messages.count() == 2


def test_an_answer_cannot_be_edited(alice: Client, user: User, model: LLMModel) -> None:
    session = ChatSession.objects.create(owner=user)
    _, reply = session.start_turn(content="Hi", model=model)

    assert alice.get(url("edit", session, reply)).status_code == 404


def test_choosing_a_version_without_js_returns_to_it(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    _, first = session.start_turn(content="Hi", model=model)
    finish(first, "Hello")
    finish(session.answer_again(first, model=model), "Hi there")

    response = alice.post(url("show", session, first))

    assert response["Location"] == f"{session.get_absolute_url()}#message-{first.public_id}"
    page = alice.get(session.get_absolute_url()).content.decode()
    assert "Hello" in page
    assert "Hi there" not in page
    assert '<span class="position">1 / 2</span>' in page


def test_a_system_prompt_too_long_is_refused_and_the_old_one_kept(
    alice: Client, user: User
) -> None:
    session = ChatSession.objects.create(owner=user, system_prompt="Be brief.")

    response = alice.post(
        url("system_prompt", session), {"system_prompt": "x" * 20_001}, follow=True
    )

    assert "at most 20000 characters" in response.content.decode()
    session.refresh_from_db()
    assert session.system_prompt == "Be brief."
    alice.post(url("system_prompt", session), {"system_prompt": "  "})
    session.refresh_from_db()
    assert session.system_prompt == ""
