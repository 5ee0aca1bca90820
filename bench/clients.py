"""The bench's clients, timing what a person waits for.

On Switchboard a client does what a browser does: it signs in (the login page for its
CSRF cookie, then the form), opens a new chat, and sends a message as the page's
composer sends it (its form fields, the HX-* headers and the CSRF token, asking for an
event stream), then reads the turn and the answer's events on that response. On the fake and on the
relays it does what an OpenAI-compatible client does: one streaming POST.

Time to first token always starts when the message is sent: on Switchboard that is the
POST, whose response then carries the answer.
"""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser

import httpx2

from bench.app import FAKE_MODEL, PASSWORD

QUESTION = "bench"
FAKE_TOKEN = " tok"  # noqa: S105 - not a secret: how each of the fake's tokens begins (fakes/upstream.py, --tokens)
_STATUS = re.compile(r'data-status="(\w+)"')
_REASON = re.compile(r'<p class="reason[^"]*"[^>]*>(.*?)</p>', re.DOTALL)


class BenchError(Exception):
    """A request that did not end as a whole answer; the text says how."""


@dataclass(frozen=True)
class Timing:
    ttft_ms: float
    total_ms: float
    tokens: int
    post_ms: float | None = None  # Switchboard only: the POST to its turn event (Send's work)


def new_client(*, base_url: str = "", headers: dict[str, str] | None = None) -> httpx2.AsyncClient:
    """One person's client: its own connections (httpx2 sets TCP_NODELAY on them) and
    cookies. Generous timeouts: at 200 streams a slow answer is a measurement, not an error."""
    timeout = httpx2.Timeout(180.0, connect=30.0)
    return httpx2.AsyncClient(base_url=base_url, headers=headers, timeout=timeout)


async def openai_stream(client: httpx2.AsyncClient, url: str) -> Timing:
    """One streamed chat completion, timed to its first content chunk and to its end."""
    body = {
        "model": FAKE_MODEL,
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": True,
    }
    started = time.perf_counter()
    first, tokens = 0.0, 0
    async with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            await response.aread()
            raise BenchError(f"HTTP {response.status_code}: {response.text[:200]}")
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                first = first or time.perf_counter()
                tokens += 1
    if not tokens:
        raise BenchError("the stream ended without a token")
    return Timing((first - started) * 1000, (time.perf_counter() - started) * 1000, tokens)


async def sign_in(client: httpx2.AsyncClient, username: str) -> None:
    await client.get("/accounts/login/")  # sets the CSRF cookie
    form = {
        "username": username,
        "password": PASSWORD,
        "csrfmiddlewaretoken": client.cookies["csrftoken"],
        "next": "",
    }
    response = await client.post("/accounts/login/", data=form)
    if response.status_code != 302:
        raise BenchError(f"sign-in of {username} refused: HTTP {response.status_code}")


@dataclass(frozen=True)
class Composer:
    """What the chat page's composer posts to, and the model it has selected."""

    send_url: str
    model: str
    page_url: str


async def open_new_chat(client: httpx2.AsyncClient) -> Composer:
    """New chat, as its button does; the composer read from the chat page it lands on."""
    response = await client.post(
        "/chat/new/", headers={"X-CSRFToken": client.cookies["csrftoken"]}, follow_redirects=True
    )
    reader = _ComposerReader()
    reader.feed(response.text)
    if response.status_code != 200 or not reader.send_url or not reader.model:
        raise BenchError(f"no composer on the new chat's page (HTTP {response.status_code})")
    return Composer(reader.send_url, reader.model, str(response.url))


async def send_and_stream(client: httpx2.AsyncClient, composer: Composer) -> Timing:
    """Send a message as the page's composer does (static/js/send.js), and read its
    answer on that response to its `done` event."""
    started = time.perf_counter()
    headers = {
        "Accept": "text/event-stream",
        "HX-Request": "true",
        "HX-Current-URL": composer.page_url,
        "X-CSRFToken": client.cookies["csrftoken"],
    }
    data = {"content": QUESTION, "model": composer.model}
    posted, first, tokens, ended, done = 0.0, 0.0, 0, 0.0, []
    async with client.stream("POST", composer.send_url, data=data, headers=headers) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            await response.aread()
            raise BenchError(f"Send answered HTTP {response.status_code} with no answer on it")
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            if line == "event: turn":
                posted = time.perf_counter()  # the turn is saved and in the page
            elif line == "event: delta":
                first = first or time.perf_counter()
            elif event == "delta" and line.startswith("data: "):
                # The fake's tokens, however many a delta carries: several when the
                # answer's task ran ahead of this reader.
                tokens += line.count(FAKE_TOKEN)
            elif line == "event: done":
                ended = time.perf_counter()
            elif ended and line.startswith("data: "):
                done.append(line[6:])
            elif ended and not line:
                break
    final = "\n".join(done)
    status = _STATUS.search(final)
    if not ended or not status or status.group(1) != "done":
        reason = _REASON.search(final)
        raise BenchError(
            f"the answer ended {status.group(1) if status else 'without its done event'}"
            + (f": {html.unescape(reason.group(1)).strip()}" if reason else "")
        )
    if not tokens:
        raise BenchError("the answer finished without a token")
    return Timing(
        (first - started) * 1000,
        (ended - started) * 1000,
        tokens,
        post_ms=(posted - started) * 1000,
    )


class _ComposerReader(HTMLParser):
    """The form with id "composer": where it posts (hx-post), and its model field's value
    (a select's selected option, or an input's value, whichever the picker is)."""

    def __init__(self) -> None:
        super().__init__()
        self.send_url = ""
        self.model = ""
        self._in_composer = False
        self._in_model_select = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and attributes.get("id") == "composer":
            self._in_composer = True
            self.send_url = attributes.get("hx-post") or attributes.get("action") or ""
        if not self._in_composer:
            return
        if attributes.get("name") == "model":
            if tag == "select":
                self._in_model_select = True
            elif tag == "input":
                self.model = attributes.get("value") or ""
        elif (
            tag == "option"
            and self._in_model_select
            and ("selected" in attributes or not self.model)
        ):
            # A select with none selected submits its first option.
            self.model = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._in_model_select = False
        elif tag == "form":
            self._in_composer = False
