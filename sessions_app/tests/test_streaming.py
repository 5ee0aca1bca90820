"""The answer stream, end to end: uvicorn serving the app, the fake upstream behind it."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import httpx2
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from config.tests.uvicorn import serve, stop
from fakes.upstream import FakeUpstream, Fault, Gate
from providers.models import LLMModel, PersonalKey, Provider
from providers.runners.base import ConfigurationError
from providers.tests.factories import (
    OPENAI_KEY,
    UNUSABLE_BASE_URLS,
    break_base_url,
    make_fake_provider,
    make_model,
)
from providers.tests.leaks import assert_keyless
from sessions_app.models import ChatSession, Message
from sessions_app.rendering import RENDERER, render_markdown
from sessions_app.streaming import (
    INTERRUPTED,
    KEEPALIVE,
    OUTPUT_LIMIT,
    STOPPED,
    _RenderBudget,
    sse,
)
from sessions_app.tests import event_stream

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reply(user: User, fake_upstream: FakeUpstream) -> Message:
    model = make_model(make_fake_provider(fake_upstream), model_id="gpt-4o", display_name="GPT-4o")
    session = ChatSession.objects.create(owner=user)
    return session.start_turn(content="Say hello", model=model)[1]


def stream_url(asgi_server: str, message: Message) -> str:
    path = reverse("sessions_app:stream", args=[message.session.public_id, message.public_id])
    return asgi_server + path


def ask(server: str, session: ChatSession, model: LLMModel, cookies: dict[str, str]) -> str:
    """What Send does, sent to `server`; the path of the answer's stream the page opens."""
    token = httpx2.get(server + reverse("sessions_app:index"), cookies=cookies).cookies["csrftoken"]
    response = httpx2.post(
        server + reverse("sessions_app:send", args=[session.public_id]),
        data={"content": "Say hello", "model": model.pk},
        cookies=cookies | {"csrftoken": token},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 200
    opened = re.search(r'sse-connect="([^"]+)"', response.text)
    assert opened, response.text
    return opened[1]


def read_events(url: str, cookies: dict[str, str]) -> list[tuple[str, str]]:
    """The events as a browser's EventSource sees them."""
    response = httpx2.get(url, cookies=cookies, timeout=20)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    return event_stream.parse(response.text)


def wait_for(message: Message, status: str) -> Message:
    deadline = time.monotonic() + 30  # generous: the machine may be busy
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status == status:
            return message
        time.sleep(0.05)
    raise AssertionError(f"status stayed {message.status}")


class Reader:
    """An EventSource on its own thread: the events so far, as they arrive."""

    def __init__(
        self, url: str, cookies: dict[str, str], *, start: threading.Barrier | None = None
    ):
        self.events: list[tuple[str, str]] = []
        self.received = ""  # as sent, comments included
        self.answered = threading.Event()  # the response's headers arrived
        self._url, self._cookies, self._start = url, cookies, start
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        if self._start:
            self._start.wait()  # released together with the other readers
        received = ""
        with httpx2.stream("GET", self._url, cookies=self._cookies, timeout=60) as response:
            assert response.status_code == 200
            self.answered.set()
            for text in response.iter_text():
                received += text
                self.received, self.events = received, event_stream.parse(received)

    def deltas(self) -> list[str]:
        return [data for name, data in self.events if name == "delta"]

    def wait_for_deltas(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while len(self.deltas()) < count:
            assert time.monotonic() < deadline, f"deltas so far: {self.deltas()}"
            time.sleep(0.02)

    def finish(self) -> list[tuple[str, str]]:
        """All the events, once the stream has ended."""
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the stream did not end"
        return self.events


def press_stop(server: str, message: Message, cookies: dict[str, str]) -> None:
    """What the Stop button sends, to `server` (any process serving this database)."""
    stop_url = server + reverse(
        "sessions_app:stop", args=[message.session.public_id, message.public_id]
    )
    token = httpx2.get(server + reverse("sessions_app:index"), cookies=cookies).cookies["csrftoken"]
    response = httpx2.post(
        stop_url,
        cookies=cookies | {"csrftoken": token},
        headers={"X-CSRFToken": token, "Referer": server + "/"},
    )
    assert response.status_code == 204


def test_the_answer_streams_then_is_saved_with_its_audit(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.cached_tokens = 1

    events = read_events(stream_url(asgi_server, reply), cookies)

    assert [data for name, data in events if name == "delta"] == ["Hello", ",", " world", "!"]
    assert events[-1][0] == "done"
    assert 'data-status="done"' in events[-1][1]
    assert "<p>Hello, world!</p>" in events[-1][1]
    assert "sse-connect" not in events[-1][1]  # the finished message opens no new stream
    reply.refresh_from_db()
    assert (reply.status, reply.content) == ("done", "Hello, world!")
    assert (reply.content_html, reply.content_html_renderer) == ("<p>Hello, world!</p>\n", RENDERER)
    assert (reply.input_tokens, reply.output_tokens, reply.cached_tokens) == (3, 4, 1)
    assert reply.ttft_ms is not None
    assert reply.latency_ms >= reply.ttft_ms
    sent = fake_upstream.requests[0]
    assert sent.key == OPENAI_KEY
    assert sent.body["messages"] == [{"role": "user", "content": "Say hello"}]


def test_send_starts_the_answer_which_ends_and_is_saved_with_nobody_reading(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    model = make_model(make_fake_provider(fake_upstream), model_id="gpt-4o")
    session = ChatSession.objects.create(owner=user)
    gate = Gate()  # held before its first token
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=0))

    ask(asgi_server, session, model, cookies)

    gate.wait_held()  # the provider has the request, and no stream was ever opened
    gate.open()
    answer = wait_for(session.messages.get(role="assistant"), "done")
    assert (answer.content, answer.error) == ("Hello, world!", "")
    assert (answer.input_tokens, answer.output_tokens) == (3, 4)
    assert answer.ttft_ms is not None
    assert len(fake_upstream.requests) == 1


def test_an_answer_the_server_stops_under_keeps_its_text_and_is_offered_again(
    served_env: dict[str, str], user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    served = serve(served_env)  # a server of its own: the test stops it
    model = make_model(make_fake_provider(fake_upstream), model_id="gpt-4o")
    session = ChatSession.objects.create(owner=user)
    gate = Gate()  # "Hello", then the model is silent while the server stops
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=1))
    ask(served.url, session, model, cookies)
    gate.wait_held()

    log = stop(served)  # SIGTERM, as a deploy or a restart sends

    gate.wait_hung_up()
    answer = session.messages.get(role="assistant")
    assert (answer.status, answer.content, answer.error) == ("error", "Hello", INTERRUPTED), log
    assert "Traceback" not in log, log
    page = Client()
    page.force_login(user)
    assert "Retry" in page.get(session.get_absolute_url()).content.decode()


def test_a_hostile_answer_reaches_the_page_sanitized_as_stored(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.reply = ["**Sure** <script>alert(1)</script>", " [x](javascript:alert(1))"]

    done = read_events(stream_url(asgi_server, reply), cookies)[-1][1]
    page = httpx2.get(asgi_server + reply.session.get_absolute_url(), cookies=cookies).text

    reply.refresh_from_db()
    assert reply.content_html == render_markdown(reply.content)
    for html in (done, page, reply.content_html):
        assert "<strong>Sure</strong> &lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:" in html
        assert "<script>alert" not in html


def test_two_connections_at_once_start_one_generation(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    gate = Gate()  # the answer waits until both connections are in
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=0))
    url = stream_url(asgi_server, reply)
    together = threading.Barrier(2)
    readers = [Reader(url, cookies, start=together) for _ in range(2)]
    for reader in readers:
        assert reader.answered.wait(30)
    gate.wait_held()

    gate.open()

    for reader in readers:
        events = reader.finish()
        assert "".join(reader.deltas()) == "Hello, world!"
        assert events[-1][0] == "done"
        assert 'data-status="done"' in events[-1][1]
    assert len(fake_upstream.requests) == 1  # one generation; the other connection followed it


def test_a_closed_tab_leaves_the_answer_running_to_its_end(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=1))
    with httpx2.stream("GET", stream_url(asgi_server, reply), cookies=cookies) as response:
        for line in response.iter_lines():
            if line == "data: Hello":
                break  # leave after the first token, as a closed tab does
    gate.wait_held()

    gate.open()  # the model goes on, nobody reading

    done = wait_for(reply, "done")
    assert (done.content, done.error) == ("Hello, world!", "")
    assert done.content_html == "<p>Hello, world!</p>\n"
    assert not gate.hung_up  # the upstream request was never cut
    assert len(fake_upstream.requests) == 1


def test_a_reader_that_comes_back_gets_the_whole_answer_from_its_first_token(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    gate = Gate()  # "Hello", ",", then the model waits while the reader comes and goes
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=2))
    first = Reader(stream_url(asgi_server, reply), cookies)
    first.wait_for_deltas(2)
    gate.wait_held()
    second = Reader(stream_url(asgi_server, reply), cookies)  # a reload, on this process
    second.wait_for_deltas(2)

    gate.open()

    for reader in (first, second):
        events = reader.finish()
        assert reader.deltas() == ["Hello", ",", " world", "!"]  # live, not a stored copy
        assert 'data-status="done"' in events[-1][1]
    assert len(fake_upstream.requests) == 1


def test_an_upstream_failure_keeps_the_partial_text_with_a_reason(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.faults.append(Fault(cut_after_tokens=2))

    events = read_events(stream_url(asgi_server, reply), cookies)

    assert events[-1][0] == "done"
    assert 'data-status="error"' in events[-1][1]
    assert "The connection closed in the middle of the answer." in events[-1][1]
    reply.refresh_from_db()
    assert (reply.status, reply.content) == ("error", "Hello,")


@pytest.mark.parametrize("echo", ["exact", "lower", "percent-encoded", "basic auth"])
def test_an_upstream_500_is_retried_once_then_reported_without_the_key(
    asgi_server: str,
    reply: Message,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    echo: str,
) -> None:
    fake_upstream.faults += [Fault(status=500, echo_key=echo), Fault(status=500, echo_key=echo)]

    events = read_events(stream_url(asgi_server, reply), cookies)

    assert "The provider failed to answer; try again later." in events[-1][1]
    assert "sk-…234" in events[-1][1]  # the echo is there, masked
    assert len(fake_upstream.requests) == 2
    reply.refresh_from_db()
    assert reply.status == "error"
    assert "Scripted failure: " in reply.error
    assert "sk-…234" in reply.error
    for text in (*(data for _, data in events), reply.error):
        assert_keyless(text, OPENAI_KEY)
    assert_keyless(reply.error, OPENAI_KEY, shows="sk-…234")
    # and the server's log: checked for every served test (conftest.asgi_server)


def test_stop_ends_the_stream_and_keeps_the_partial_text(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    gate = Gate()  # "Hello", ",", then the model goes quiet until the test says go
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=2))
    reader = Reader(stream_url(asgi_server, reply), cookies)
    reader.wait_for_deltas(2)

    press_stop(asgi_server, reply, cookies)

    wait_for(reply, "stopped")  # noticed while the model is silent
    gate.wait_hung_up()  # and the upstream request ended
    gate.open()
    events = reader.finish()
    assert reader.deltas() == ["Hello", ","]
    assert events[-1][0] == "done"
    assert 'data-status="stopped"' in events[-1][1]
    reply.refresh_from_db()
    assert (reply.status, reply.content, reply.error) == ("stopped", "Hello,", STOPPED)


def test_stop_before_the_first_token_is_noticed_and_nothing_more_is_sent(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    gate = Gate()  # the model is silent from the start: a long wait, or thinking
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=0))
    reader = Reader(stream_url(asgi_server, reply), cookies)
    gate.wait_held()

    press_stop(asgi_server, reply, cookies)

    wait_for(reply, "stopped")
    gate.wait_hung_up()
    gate.open()
    events = reader.finish()
    assert [name for name, _ in events] == ["done"]
    assert 'data-status="stopped"' in events[0][1]
    reply.refresh_from_db()
    assert (reply.status, reply.content, reply.error) == ("stopped", "", STOPPED)
    assert reply.ttft_ms is None
    assert len(fake_upstream.requests) == 1


@pytest.mark.parametrize("asgi_env", [{"SSE_KEEPALIVE_SECONDS": "1"}], ids=["keep-alive 1 s"])
def test_a_silent_stream_sends_keep_alive_comments_a_browser_ignores(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    gate = Gate()  # the model thinks before its first token; a proxy would cut the quiet
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=0))
    reader = Reader(stream_url(asgi_server, reply), cookies)
    gate.wait_held()

    deadline = time.monotonic() + 30
    while KEEPALIVE not in reader.received:
        assert time.monotonic() < deadline, f"no keep-alive in: {reader.received!r}"
        time.sleep(0.05)
    gate.open()

    events = reader.finish()
    assert [name for name, _ in events if name != "html"] == ["delta"] * 4 + ["done"]
    assert 'data-status="done"' in events[-1][1]
    reply.refresh_from_db()
    assert (reply.status, reply.content) == ("done", "Hello, world!")


def test_stop_sent_to_another_server_process_ends_the_stream(
    asgi_server: str,
    second_server: str,
    reply: Message,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=2))
    reader = Reader(stream_url(asgi_server, reply), cookies)
    reader.wait_for_deltas(2)

    press_stop(second_server, reply, cookies)  # the database is all the two share

    wait_for(reply, "stopped")
    gate.wait_hung_up()
    gate.open()
    events = reader.finish()
    assert reader.deltas() == ["Hello", ","]  # nothing after the Stop
    assert events[-1][0] == "done"
    assert 'data-status="stopped"' in events[-1][1]
    assert escape(STOPPED) in events[-1][1]
    reply.refresh_from_db()
    assert (reply.status, reply.content, reply.error) == ("stopped", "Hello,", STOPPED)
    assert len(fake_upstream.requests) == 1


def test_a_silent_stream_keeps_its_row_fresh_so_a_follower_follows_it(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=0))
    streaming = Reader(stream_url(asgi_server, reply), cookies)
    gate.wait_held()
    # As if the model had been silent for an hour: no token has touched the row since.
    before = timezone.now()
    Message.objects.filter(pk=reply.pk).update(updated_at=before - timedelta(hours=1))

    deadline = time.monotonic() + 30
    while reply.updated_at < before:  # the heartbeat, with no token to carry it
        assert time.monotonic() < deadline, "the silent stream's row was not touched"
        time.sleep(0.05)
        reply.refresh_from_db()
    follower = Reader(stream_url(asgi_server, reply), cookies)  # another tab, say
    assert follower.answered.wait(30)
    gate.open()

    for reader in (streaming, follower):
        events = reader.finish()
        assert "".join(reader.deltas()) == "Hello, world!"
        assert 'data-status="done"' in events[-1][1]
    reply.refresh_from_db()
    assert (reply.status, reply.error) == ("done", "")
    assert len(fake_upstream.requests) == 1


def test_a_stream_whose_answer_was_marked_interrupted_ends_and_keeps_that_end(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=2))
    reader = Reader(stream_url(asgi_server, reply), cookies)
    reader.wait_for_deltas(2)
    # What a follower does to a stream it found silent past STALE_AFTER (a stuck worker):
    # the answer is no longer this stream's, and the page offers Retry.
    Message.objects.filter(pk=reply.pk).update(status="error", error=INTERRUPTED)

    gate.wait_hung_up()  # the stream noticed at its next checkpoint and hung up
    gate.open()
    events = reader.finish()
    assert 'data-status="error"' in events[-1][1]
    assert INTERRUPTED in events[-1][1]
    reply.refresh_from_db()
    assert (reply.status, reply.error) == ("error", INTERRUPTED)  # not overwritten as done
    assert len(fake_upstream.requests) == 1


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_an_answer_cut_at_the_models_output_limit_says_so_and_keeps_its_text(
    asgi_server: str,
    user: User,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    protocol: str,
) -> None:
    fake_upstream.models = ["gpt-4o", "claude-sonnet-5-5"]
    model_id = {"openai": "gpt-4o", "anthropic": "claude-sonnet-5-5"}[protocol]
    provider = make_fake_provider(fake_upstream, protocol=protocol)
    model = make_model(provider, model_id=model_id, settings={"max_tokens": 2})
    session = ChatSession.objects.create(owner=user)
    answer = session.start_turn(content="Say hello", model=model)[1]

    events = read_events(stream_url(asgi_server, answer), cookies)

    assert fake_upstream.requests[0].body["max_tokens"] == 2
    assert [data for name, data in events if name == "delta"] == ["Hello", ","]
    assert 'data-status="stopped"' in events[-1][1]
    assert escape(OUTPUT_LIMIT) in events[-1][1]
    answer.refresh_from_db()
    assert (answer.status, answer.content, answer.error) == ("stopped", "Hello,", OUTPUT_LIMIT)
    assert answer.output_tokens == 2
    page = httpx2.get(asgi_server + session.get_absolute_url(), cookies=cookies)
    assert escape(OUTPUT_LIMIT) in page.text  # on the answer when the chat is reopened


@pytest.fixture
def other_cookies(other_user: User) -> dict[str, str]:
    client = Client()
    client.force_login(other_user)
    return {"sessionid": client.cookies["sessionid"].value}


def test_another_persons_stream_is_a_404(
    asgi_server: str, reply: Message, other_cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    response = httpx2.get(stream_url(asgi_server, reply), cookies=other_cookies)

    assert response.status_code == 404
    assert fake_upstream.requests == []
    reply.refresh_from_db()
    assert reply.status == "pending"  # still the owner's to stream


def test_an_answer_streaming_in_the_server_is_read_by_its_owner_only_and_under_its_chat(
    asgi_server: str,
    user: User,
    cookies: dict[str, str],
    other_cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    # Send starts the answer in the server: its stream is read from the running task,
    # which checks the reader without looking the answer up (views.stream).
    model = make_model(make_fake_provider(fake_upstream), model_id="gpt-4o")
    session = ChatSession.objects.create(owner=user)
    elsewhere = ChatSession.objects.create(owner=user)
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=1))
    path = ask(asgi_server, session, model, cookies)
    gate.wait_held()
    answer = session.messages.get(role="assistant")
    in_another_chat = path.replace(str(session.public_id), str(elsewhere.public_id))

    theirs = httpx2.get(asgi_server + path, cookies=other_cookies)
    misplaced = httpx2.get(asgi_server + in_another_chat, cookies=cookies)

    assert (theirs.status_code, misplaced.status_code) == (404, 404)
    assert "Hello" not in theirs.text + misplaced.text
    gate.open()
    events = read_events(asgi_server + path, cookies)
    assert "".join(data for name, data in events if name == "delta") == "Hello, world!"
    assert wait_for(answer, "done").content == "Hello, world!"


def test_a_personal_key_is_used_for_its_owner_only_and_not_once_turned_off(
    asgi_server: str,
    reply: Message,
    cookies: dict[str, str],
    other_user: User,
    other_cookies: dict[str, str],
    fake_upstream: FakeUpstream,
) -> None:
    mine = "sk-proj-FAKE.alice.stream.key.0000"
    provider = reply.llm_model.provider
    PersonalKey.objects.create(user=reply.session.owner, provider=provider, api_key=mine)
    others = ChatSession.objects.create(owner=other_user)
    other_reply = others.start_turn(content="Hi", model=reply.llm_model)[1]

    events = read_events(stream_url(asgi_server, reply), cookies)
    read_events(stream_url(asgi_server, other_reply), other_cookies)
    Provider.objects.filter(pk=provider.pk).update(allow_personal_keys=False)
    later = reply.session.start_turn(content="Again", model=reply.llm_model)[1]
    read_events(stream_url(asgi_server, later), cookies)

    assert [r.key for r in fake_upstream.requests] == [mine, OPENAI_KEY, OPENAI_KEY]
    assert '<span class="badge">your key</span>' in events[-1][1]
    assert mine not in events[-1][1]
    reply.refresh_from_db()
    later.refresh_from_db()
    assert (reply.used_personal_key, later.used_personal_key) == (True, False)


def test_an_answer_whose_worker_died_is_marked_interrupted(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    long_ago = timezone.now() - timedelta(minutes=10)
    Message.objects.filter(pk=reply.pk).update(
        status="streaming", content="Hel", updated_at=long_ago
    )

    events = read_events(stream_url(asgi_server, reply), cookies)

    assert events[0] == ("delta", "Hel")
    assert 'data-status="error"' in events[-1][1]
    assert "The answer was interrupted" in events[-1][1]
    reply.refresh_from_db()
    assert (reply.status, reply.content, reply.error) == ("error", "Hel", INTERRUPTED)
    assert fake_upstream.requests == []


LINE_ENDS = ["\n", "\r", "\r\n", "\r\r", "\n\r", "\r\n\r"]


def forged(line_end: str) -> str:
    """Text that, framed carelessly, ends our event and sends a `done` of its own."""
    return line_end.join(["Hello", "", "event: done", 'data: <p id="forged">pwned</p>', "", "x"])


def normalized(text: str) -> str:
    return "\n".join(event_stream._LINE_END.split(text))


@pytest.mark.parametrize("line_end", LINE_ENDS, ids=repr)
def test_no_line_end_in_event_data_can_end_the_event(line_end: str) -> None:
    text = forged(line_end)

    assert event_stream.parse(sse("delta", text)) == [("delta", normalized(text))]


@pytest.mark.parametrize("line_end", ["\r", "\r\n", "\n\r"], ids=repr)
def test_upstream_text_cannot_forge_an_event_in_the_stream(
    asgi_server: str,
    reply: Message,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    line_end: str,
) -> None:
    text = forged(line_end)
    fake_upstream.reply = [text[:7], text[7:20], text[20:]]  # line ends inside and across deltas

    events = read_events(stream_url(asgi_server, reply), cookies)

    assert [name for name, _ in events].count("done") == 1
    assert events[-1][0] == "done"
    assert '<p id="forged">' not in events[-1][1]
    assert 'data-status="done"' in events[-1][1]
    deltas = [data for name, data in events if name == "delta"]
    assert deltas == [escape(normalized(part)) for part in fake_upstream.reply]
    reply.refresh_from_db()
    assert reply.content == text  # stored as the model wrote it


@pytest.mark.parametrize("line_end", ["\r", "\r\n"], ids=repr)
def test_the_follower_stream_frames_stored_text_safely(
    asgi_server: str, reply: Message, cookies: dict[str, str], line_end: str
) -> None:
    text = forged(line_end)
    Message.objects.filter(pk=reply.pk).update(status="done", content=text)

    events = read_events(stream_url(asgi_server, reply), cookies)

    assert [name for name, _ in events] == ["delta", "html", "done"]
    assert "pwned" in events[0][1]
    assert '<p id="forged">' not in events[1][1]
    assert "&lt;p id=" in events[1][1]
    assert 'data-status="done"' in events[2][1]
    assert "pwned" in events[2][1]
    assert "&lt;p id=" in events[2][1]  # shown as text
    assert '<p id="forged">' not in events[1][1]


def test_bytes_not_utf8_end_the_answer_as_malformed_keeping_the_text(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.faults.append(Fault(invalid_utf8_after_tokens=2))

    events = read_events(stream_url(asgi_server, reply), cookies)

    assert 'data-status="error"' in events[-1][1]
    assert "not in the expected format" in events[-1][1]
    reply.refresh_from_db()
    assert (reply.status, reply.content) == ("error", "Hello,")
    assert "not UTF-8" in reply.error


def test_a_nul_in_the_answer_is_dropped_and_the_answer_is_kept(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.reply = ["Hel\x00lo", "\x00", " world"]

    events = read_events(stream_url(asgi_server, reply), cookies)

    assert 'data-status="done"' in events[-1][1]
    reply.refresh_from_db()
    assert (reply.status, reply.content) == ("done", "Hello world")


@pytest.mark.parametrize(("url", "detail"), UNUSABLE_BASE_URLS.values(), ids=UNUSABLE_BASE_URLS)
def test_a_provider_whose_base_url_cannot_be_used_fails_its_answer_only(
    asgi_server: str,
    reply: Message,
    cookies: dict[str, str],
    fake_upstream: FakeUpstream,
    url: str,
    detail: str,
) -> None:
    broken = make_fake_provider(fake_upstream, name="Broken")
    break_base_url(broken, url)
    model = make_model(broken, model_id="gpt-4o")
    _, doomed = reply.session.start_turn(content="Say hello", model=model)

    failed = read_events(stream_url(asgi_server, doomed), cookies)
    answered = read_events(stream_url(asgi_server, reply), cookies)

    problem = f"{ConfigurationError.user_message} {detail}"
    assert 'data-status="error"' in failed[-1][1]
    assert escape(problem) in failed[-1][1]
    doomed.refresh_from_db()
    assert (doomed.status, doomed.error) == ("error", problem)
    assert 'data-status="done"' in answered[-1][1]
    # and no traceback in the server's log: checked for every served test (conftest)


def test_the_page_gets_the_answer_formatted_while_it_streams(
    asgi_server: str, reply: Message, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    fake_upstream.reply = [
        "## Plan\n\n- one\n",
        "- two <script>x</script>\n\n",
        "```python\nx = 1\n",
        "```\n",
    ]
    gate = Gate()  # held inside the code block
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=3))
    reader = Reader(stream_url(asgi_server, reply), cookies)
    deadline = time.monotonic() + 30
    gate.wait_held()
    while not any(
        '<span class="mi">1</span>' in data for name, data in reader.events if name == "html"
    ):
        assert time.monotonic() < deadline, f"events so far: {reader.events}"
        time.sleep(0.05)
    gate.open()

    events = reader.finish()
    formatted = [data for name, data in events if name == "html"]
    assert "<h2>Plan</h2>" in formatted[0]  # the first part, formatted at once
    assert all("<script" not in html for html in formatted)
    assert "<li>two &lt;script&gt;x&lt;/script&gt;</li>" in formatted[-1]
    assert formatted[-1] in events[-1][1]  # as the finished answer shows it: no jump


def test_the_renders_of_all_streaming_answers_share_one_budget_of_the_workers_time() -> None:
    budget = _RenderBudget(share=0.05, most=0.01)

    assert budget.allows(now=100.0)  # full at first
    budget.spend(0.03)  # a long answer's render: 30 ms of the worker's time
    # Any answer now waits until 5 % of the time since has paid it back.
    assert not budget.allows(now=100.2)  # 10 ms back: still 10 ms owed
    assert budget.allows(now=100.5)  # 25 ms back: 5 ms in hand
    budget.spend(0.001)
    assert budget.allows(now=1000.0)
    assert budget.left == 0.01  # an idle worker saves up no more than `most`
