from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from providers.tests.concurrency import race, run_at_once, statement
from providers.tests.factories import make_model, make_provider
from sessions_app.models import AnswerAgainError, ChatSession, Message
from sessions_app.rendering import RENDERER, render_markdown

pytestmark = pytest.mark.django_db


def test_the_audit_snapshot_outlives_the_model(user: User) -> None:
    model = make_model(make_provider(), model_id="gpt-4o", display_name="GPT-4o")
    session = ChatSession.objects.create(owner=user, current_model=model)
    answer = Message.objects.create(
        session=session,
        role="assistant",
        content="Hello",
        status="done",
        llm_model=model,
        model_id=model.model_id,
        model_display_name=model.label,
        provider_name=model.provider.name,
    )

    model.delete()

    answer.refresh_from_db()
    session.refresh_from_db()
    assert answer.llm_model is None
    assert (answer.model_id, answer.model_display_name, answer.provider_name) == (
        "gpt-4o",
        "GPT-4o",
        "OpenAI",
    )
    assert session.current_model is None


HOSTILE = (
    "**Sure.** <script>alert(1)</script> <img src=x onerror=alert(1)> "
    "[click](javascript:alert(1)) <a href=x style=color:red>styled</a>"
)


def answered(user: User, text: str) -> Message:
    """An answer that ended as a stream ends one: through Message.finish."""
    model = make_model(make_provider(), model_id="gpt-4o")
    _, reply = ChatSession.objects.create(owner=user).start_turn(content="Hi", model=model)
    assert reply.claim()
    reply.finish(status="done", content=text)
    return Message.objects.get(pk=reply.pk)


def test_an_answer_ends_with_its_html_as_the_renderer_makes_it(user: User) -> None:
    answer = answered(user, "Hi **there**\n\n```python\nprint(1)\n```")

    assert answer.content_html == render_markdown(answer.content)
    assert answer.content_html_renderer == RENDERER
    assert "<strong>there</strong>" in answer.content_html


def test_a_hostile_answer_is_stored_sanitized(user: User) -> None:
    answer = answered(user, HOSTILE)

    assert answer.content_html == render_markdown(HOSTILE)
    for tag in ("<script", "<img", "<a "):  # the raw tags only ever as text, no link made
        assert tag not in answer.content_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.content_html
    assert "<strong>Sure.</strong>" in answer.content_html


@pytest.mark.parametrize(
    ("stored", "renderer"),
    [
        ("", ""),  # an answer from before the HTML was stored
        ("<script>alert('stored')</script>", "an-older-one"),  # another renderer's: untrusted
    ],
)
def test_an_answer_without_html_from_this_renderer_is_rendered_again_and_stored(
    user: User, stored: str, renderer: str
) -> None:
    answer = answered(user, HOSTILE)
    Message.objects.filter(pk=answer.pk).update(content_html=stored, content_html_renderer=renderer)
    updated_at = Message.objects.get(pk=answer.pk).updated_at

    shown = answer.session.messages_to_show()[-1]

    assert shown.html == render_markdown(HOSTILE)
    answer.refresh_from_db()
    assert (answer.content_html, answer.content_html_renderer) == (shown.html, RENDERER)
    assert answer.updated_at == updated_at  # a follower's heartbeat is left alone


def test_html_another_renderer_stored_is_never_shown(user: User) -> None:
    answer = answered(user, HOSTILE)
    answer.content_html = "<script>alert('stored')</script>"
    answer.content_html_renderer = "an-older-one"

    assert answer.html == render_markdown(HOSTILE)


def test_an_open_answer_is_not_rendered_before_it_ends(user: User) -> None:
    model = make_model(make_provider(), model_id="gpt-4o")
    session = ChatSession.objects.create(owner=user)
    _, reply = session.start_turn(content="Hi", model=model)
    assert reply.claim()
    Message.objects.filter(pk=reply.pk).update(content="**So far**")

    session.messages_to_show()

    reply.refresh_from_db()
    assert (reply.content_html, reply.content_html_renderer) == ("", "")


def test_sessions_have_unguessable_public_ids_and_list_newest_first(user: User) -> None:
    older = ChatSession.objects.create(owner=user, title="older")
    newer = ChatSession.objects.create(owner=user, title="newer")

    assert older.public_id != newer.public_id
    assert older.public_id.version == 4
    assert list(ChatSession.objects.filter(owner=user)) == [newer, older]


@pytest.mark.django_db(transaction=True)  # each thread commits on its own connection
def test_a_regenerate_racing_a_new_question_never_answers_past_it(user: User) -> None:
    """Guards the lock on PostgreSQL (.ci/run's second pass); SQLite's IMMEDIATE
    transactions serialise the two anyway."""
    model = make_model(make_provider())
    session = ChatSession.objects.create(owner=user)
    _, answer = session.start_turn(content="Hi", model=model)
    Message.objects.filter(pk=answer.pk).update(status="done", content="Hello!")
    answer.refresh_from_db()

    # The regenerate holds until the new turn has been written or waits on a lock.
    errors = race(
        (lambda: session.answer_again(answer, model=model), statement("INSERT")),
        (lambda: session.start_turn(content="And now?", model=model), None),
    )

    # Either order is fine, as long as it is one order: a redone answer to "Hi" after
    # "And now?" would be read upstream as the answer to "And now?".
    again_first = [("user", "Hi", "done"), ("assistant", "Hello!", "done")]
    again_first += [("assistant", "", "pending"), ("user", "And now?", "done")]
    again_first += [("assistant", "", "pending")]
    turn_first = [again_first[i] for i in (0, 1, 3, 4)]
    messages = [(m.role, m.content, m.status) for m in session.messages.all()]
    if errors[0] is None:
        assert messages == again_first
    else:
        assert isinstance(errors[0], AnswerAgainError)
        assert messages == turn_first
    assert errors[1] is None


@pytest.mark.django_db(transaction=True)  # each thread its own connection, seeing the rows
def test_of_connections_claiming_one_answer_at_once_exactly_one_wins(user: User) -> None:
    model = make_model(make_provider(), model_id="gpt-4o")
    reply = ChatSession.objects.create(owner=user).start_turn(content="Hi", model=model)[1]
    claimants = [Message.objects.get(pk=reply.pk) for _ in range(4)]  # read before the race
    wins: list[bool] = []

    errors = run_at_once(lambda: wins.append(claimants.pop().claim()), times=4)

    assert errors == []
    assert sorted(wins) == [False, False, False, True]
    reply.refresh_from_db()
    assert reply.status == "streaming"
