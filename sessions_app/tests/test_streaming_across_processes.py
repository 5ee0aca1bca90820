"""An answer across two server processes on one database, as several workers serve it.

A person's requests land on whichever worker accepts them: the POST on one, the stream it
opens on another, a reconnect, a second tab or Stop on a third. The database is all the
two servers here share; each test sends one request to one and the next to the other.
(Stop from the other process: test_streaming.py.)
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import httpx2
import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from accounts.tests.browser import log_in
from fakes.upstream import FakeUpstream, Fault, Gate
from providers.models import LLMModel
from sessions_app.models import ChatSession, Message
from sessions_app.tests.test_chat_browser import answers, send
from sessions_app.tests.test_streaming import Reader, ask, read_events

pytestmark = pytest.mark.django_db(transaction=True)


def answer_of(session: ChatSession) -> Message:
    return session.messages.get(role="assistant")


def deltas(events: list[tuple[str, str]]) -> list[str]:
    return [data for name, data in events if name == "delta"]


def test_an_answer_sent_to_one_process_streams_from_the_other_with_its_audit(
    asgi_server: str,
    second_server: str,
    model: LLMModel,
    session: ChatSession,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    stream = ask(asgi_server, session, model, cookies)

    events = read_events(second_server + stream, cookies)

    # The first process streams it (Send started it there); this one follows what it
    # stores, a checkpoint at a time.
    assert "".join(deltas(events)) == "Hello, world!"
    assert [name for name, _ in events][-1:] == ["done"]
    done = events[-1][1]
    assert 'data-status="done"' in done
    assert "<p>Hello, world!</p>" in done
    assert '<span class="model-name">GPT-4o</span>' in done
    assert '<span class="provider-name muted">Fake OpenAI</span>' in done
    answer = answer_of(session)
    assert (answer.status, answer.content, answer.error) == ("done", "Hello, world!", "")
    assert (answer.llm_model, answer.model_id, answer.provider_name) == (
        model,
        "gpt-4o",
        "Fake OpenAI",
    )
    assert (answer.input_tokens, answer.output_tokens) == (3, 4)
    assert answer.ttft_ms is not None
    assert [request.body["model"] for request in fake_upstream.requests] == ["gpt-4o"]


def test_a_reconnect_to_the_other_process_follows_the_answer_that_went_on(
    asgi_server: str,
    second_server: str,
    model: LLMModel,
    session: ChatSession,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    gate = Gate()  # "Hello", then the model is silent while the connection drops
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=1))
    stream = ask(asgi_server, session, model, cookies)
    with httpx2.stream("GET", asgi_server + stream, cookies=cookies) as response:
        for line in response.iter_lines():
            if line == "data: Hello":
                break  # the connection drops: a network change, a laptop lid
    reconnected = Reader(second_server + stream, cookies)
    reconnected.wait_for_deltas(1)  # what the first process checkpointed meanwhile

    gate.open()

    events = reconnected.finish()
    assert "".join(reconnected.deltas()) == "Hello, world!"
    assert 'data-status="done"' in events[-1][1]
    assert "sse-connect" not in events[-1][1]  # the page does not reconnect again
    answer = answer_of(session)
    assert (answer.status, answer.content, answer.error) == ("done", "Hello, world!", "")
    assert not gate.hung_up  # the drop did not cut the upstream request
    assert len(fake_upstream.requests) == 1


def test_a_second_connection_on_the_other_process_follows_the_answer_to_its_end(
    asgi_server: str,
    second_server: str,
    model: LLMModel,
    session: ChatSession,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    gate = Gate()  # "Hello", ",", then the model is silent until the follower is in
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=2))
    stream = ask(asgi_server, session, model, cookies)
    streaming = Reader(asgi_server + stream, cookies)
    streaming.wait_for_deltas(2)

    following = Reader(second_server + stream, cookies)
    following.wait_for_deltas(1)  # the text checkpointed so far, while the answer is held
    gate.open()

    for reader in (streaming, following):
        events = reader.finish()
        assert "".join(reader.deltas()) == "Hello, world!"
        assert [name for name, _ in events][-1:] == ["done"]
        assert 'data-status="done"' in events[-1][1]
        assert "<p>Hello, world!</p>" in events[-1][1]
    answer = answer_of(session)
    assert (answer.status, answer.content) == ("done", "Hello, world!")
    assert len(fake_upstream.requests) == 1


def test_a_second_tab_on_the_other_process_shows_the_answer_to_its_end(
    user: User,
    model: LLMModel,
    asgi_server: str,
    second_server: str,
    page: Page,
    fake_upstream: FakeUpstream,
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=2))
    log_in(page, asgi_server, "alice")
    send(page, "Say hello")
    page.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}/$"))
    first = answers(page).first
    expect(first).to_contain_text("Hello,")

    # The same chat in another tab, served by the other process (the cookie is the host's,
    # whatever the port).
    tab = page.context.new_page()
    tab.goto(second_server + urlparse(page.url).path)
    followed = answers(tab).first
    expect(followed).to_have_attribute("data-status", "streaming")
    expect(followed).to_contain_text("Hello,")
    gate.open()

    for answer in (first, followed):
        expect(answer).to_have_attribute("data-status", "done")
        expect(answer.locator(".markdown")).to_have_text("Hello, world!")
        expect(answer.locator(".model-name")).to_have_text("GPT-4o")
    assert len(fake_upstream.requests) == 1
