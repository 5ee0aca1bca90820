"""An answer read on Send's own response, as the page's composer asks for it (send.js):
uvicorn serving the app, the fake upstream behind it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from fakes.upstream import FakeUpstream, Fault, Gate
from providers.models import LLMModel
from sessions_app.models import ChatSession, Message
from sessions_app.tests import event_stream
from sessions_app.tests.test_streaming import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def sending(
    server: str, session: ChatSession | None, cookies: dict[str, str], **data: object
) -> Iterator[httpx2.Response]:
    """Send as the page's composer does, asking for the answer on the response (in a new
    chat without `session`); the response is read as it comes, and closed on leaving."""
    token = httpx2.get(server + reverse("sessions_app:index"), cookies=cookies).cookies["csrftoken"]
    send = reverse("sessions_app:send", args=[session.public_id]) if session else None
    with (
        httpx2.Client(timeout=30) as client,
        client.stream(
            "POST",
            server + (send or reverse("sessions_app:send_first")),
            data=data,
            cookies=cookies | {"csrftoken": token},
            headers={"X-CSRFToken": token, "HX-Request": "true", "Accept": "text/event-stream"},
        ) as response,
    ):
        yield response


def test_send_carries_the_turn_then_its_answer_to_the_end(
    asgi_server: str,
    session: ChatSession,
    model: LLMModel,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    with sending(asgi_server, session, cookies, content="Say hello", model=model.pk) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        events = event_stream.parse("".join(response.iter_text()))

    (first, turn), *answer_events = events
    assert first == "turn"
    question, answer = session.messages.order_by("created_at")
    assert f'id="message-{question.public_id}"' in turn
    assert f'id="answer-{answer.public_id}"' in turn
    assert_opens_no_stream(turn, answer)
    assert_answered_to_its_end(answer_events, answer, fake_upstream)


def test_a_new_chats_first_message_carries_its_page_then_its_answer(
    asgi_server: str,
    user: User,
    model: LLMModel,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    with sending(asgi_server, None, cookies, content="Say hello", model=model.pk) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        address = response.headers["hx-replace-url"]
        events = event_stream.parse("".join(response.iter_text()))

    session = ChatSession.objects.get(owner=user)
    assert address == session.get_absolute_url()
    (first, page), *answer_events = events
    assert first == "page"
    question, answer = session.messages.order_by("created_at")
    # The chat's whole page, titled by the question, its composer sending to this chat.
    assert "<title>Say hello · Switchboard</title>" in page
    assert f'id="message-{question.public_id}"' in page
    assert f'action="{reverse("sessions_app:send", args=[session.public_id])}"' in page
    assert_opens_no_stream(page, answer)
    assert_answered_to_its_end(answer_events, answer, fake_upstream)


def assert_opens_no_stream(html: str, answer: Message) -> None:
    """The answer's stream's address is in `html`, for the page to open if the response
    breaks; it is not opened now."""
    stream = reverse("sessions_app:stream", args=[answer.session.public_id, answer.public_id])
    assert f'data-stream="{stream}"' in html
    assert "sse-connect" not in html


def assert_answered_to_its_end(
    events: list[tuple[str, str]], answer: Message, fake_upstream: FakeUpstream
) -> None:
    assert "".join(data for name, data in events if name == "delta") == "Hello, world!"
    assert events[-1][0] == "done"
    assert 'data-status="done"' in events[-1][1]
    answer.refresh_from_db()
    assert (answer.status, answer.content) == ("done", "Hello, world!")
    assert len(fake_upstream.requests) == 1


def test_an_answer_goes_on_to_its_end_when_its_sends_reader_leaves(
    asgi_server: str,
    session: ChatSession,
    model: LLMModel,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    gate = Gate()  # "Hello", then the model is silent while the tab closes
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=1))
    with sending(asgi_server, session, cookies, content="Say hello", model=model.pk) as response:
        received = ""
        for text in response.iter_text():
            received += text
            if "data: Hello\n" in received:
                break  # the tab is closed
    gate.open()

    answer = wait_for(session.messages.get(role="assistant"), "done")
    assert answer.content == "Hello, world!"
    assert not gate.hung_up  # the reader leaving did not cut the upstream request
    assert len(fake_upstream.requests) == 1


def test_a_refused_send_answers_the_form_again_not_a_stream(
    asgi_server: str,
    session: ChatSession,
    model: LLMModel,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    model.enabled = False  # switched off by staff since the page loaded
    model.save()

    with sending(asgi_server, session, cookies, content="Say hello", model=model.pk) as response:
        response.read()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["hx-retarget"] == "#composer"
    assert response.headers["hx-reswap"] == "outerHTML"
    assert "Say hello" in response.text  # what was typed is kept
    assert not Message.objects.exists()
    assert not fake_upstream.requests


def test_another_persons_chat_is_a_404_and_sends_nothing(
    asgi_server: str,
    model: LLMModel,
    other_user: User,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    theirs = ChatSession.objects.create(owner=other_user)

    with sending(asgi_server, theirs, cookies, content="Say hello", model=model.pk) as response:
        response.read()

    assert response.status_code == 404
    assert not Message.objects.exists()
    assert not fake_upstream.requests
