"""A fake LLM upstream: a real HTTP server on 127.0.0.1 speaking OpenAI's and Anthropic's
wire formats, with faults a test can script and a record of every request received.

Which protocol a request speaks is read the way the real APIs differ: Anthropic clients
send an `anthropic-version` header (and the key as `x-api-key` or, in SDK 2.x, a bearer
token); OpenAI-compatible clients send a bearer token.

    upstream = FakeUpstream(api_key="sk-test")        # None accepts any key
    with serving(upstream):                             # or the `fake_upstream` fixture
        upstream.base_url                               # http://127.0.0.1:PORT/v1 (OpenAI)
        upstream.anthropic_base_url                     # http://127.0.0.1:PORT
        upstream.faults.append(Fault(status=429, retry_after=7))  # next request only
        upstream.requests[0].headers["authorization"]
        upstream.open_connections                       # clients' connections open now

A test that must act while a stream is in flight holds it at a Gate instead of racing it:

    gate = Gate()
    upstream.faults.append(Fault(hold=gate, hold_after_tokens=2))  # "Hello", "," then wait
    ...                                                              # start the stream
    gate.wait_held()                                                 # it is waiting now
    ...                                                              # press Stop, say
    gate.wait_hung_up()                                              # the client left
    gate.open()                                                      # or let it go on

Like the real APIs, the fake honours the request's output limit (`max_tokens`, or
OpenAI's `max_completion_tokens`; each reply element counts as one token): a longer reply
ends there, with finish_reason "length" (OpenAI) or stop_reason "max_tokens" (Anthropic).

Streams use chunked transfer encoding, as real upstreams do, so a cut stream is a
transport error the client can see, not a clean end. Run it by hand for benchmarks:
`python -m fakes.upstream --port 8100 --tokens 200 --token-delay 0.01`.
"""

from __future__ import annotations

import argparse
import base64
import json
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}
ENDLESS_LIMIT = 64 * 1024 * 1024
_FILLER = b"a" * 65536
_BROKEN_JSON_LINE = b'data: {"choices": [{"delta": {"content": "oops"\n\n'
_OPENAI_ERROR_CODES = {
    401: "invalid_api_key",
    403: "insufficient_permissions",
    404: "model_not_found",
    429: "rate_limit_exceeded",
}


KEY_ECHOES: dict[str, Callable[[str], str]] = {
    "exact": lambda key: key,
    "lower": str.lower,
    "upper": str.upper,
    "swapped case": str.swapcase,
    "reversed": lambda key: key[::-1],
    "cut short": lambda key: key[:24] + "...",
    "middle starred": lambda key: key[:12] + "*" * 12 + key[-4:],
    "percent-encoded": lambda key: "".join(f"%{byte:02X}" for byte in key.encode()),
    "base64": lambda key: base64.b64encode(key.encode()).decode(),
    "basic auth": lambda key: "Basic " + base64.b64encode(f"user:{key}".encode()).decode(),
    "hex": lambda key: key.encode().hex(),
    "unicode escapes": lambda key: "".join(f"\\u{ord(c):04x}" for c in key),
    "html entities": lambda key: "".join(f"&#{ord(c)};" for c in key),
    "spaced out": " ".join,
    "separators dropped": lambda key: "".join(c for c in key if c.isalnum()),
    "in a sentence": lambda key: f"key={key.lower()}, please check it",
}


# A held stream goes on by itself after this long, so a test that fails before opening
# its gate cannot leave a thread of the fake waiting for ever.
HOLD_LIMIT_SECONDS = 60.0


class GateTimeoutError(AssertionError):
    """What a test waited for at a gate did not happen within its deadline."""


class Gate:
    """A point where scripted requests wait until the test opens it (see Fault.hold).

    One gate may hold several requests (give it to several faults); it counts the requests
    that reached it and those whose client hung up, so a test can wait for either instead
    of guessing how long a stream takes.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._open = False
        self.held = 0  # requests that reached the gate
        # Clients that closed the connection, while held or on the way to the gate: a client
        # that stops reading early (a size limit) may leave before the stream reaches it.
        self.hung_up = 0

    def open(self) -> None:
        with self._changed:
            self._open = True
            self._changed.notify_all()

    def wait_held(self, count: int = 1, timeout: float = 30.0) -> None:
        """Until `count` requests have reached the gate."""
        self._wait(lambda: self.held >= count, timeout, f"{count} request(s) held")

    def wait_hung_up(self, count: int = 1, timeout: float = 30.0) -> None:
        """Until the clients of `count` requests for this gate have closed their connections."""
        self._wait(lambda: self.hung_up >= count, timeout, f"{count} client(s) hanging up")

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(done, timeout):
                raise GateTimeoutError(
                    f"waited {timeout:.0f} s for {what}; held {self.held}, hung up {self.hung_up}"
                )

    def left_early(self) -> None:
        """A request for this gate lost its client before it reached the gate."""
        with self._changed:
            self.hung_up += 1
            self._changed.notify_all()

    def pass_through(self, connection: socket.socket) -> bool:
        """Hold the calling request until the gate opens; False if its client hung up."""
        deadline = time.monotonic() + HOLD_LIMIT_SECONDS
        with self._changed:
            self.held += 1
            self._changed.notify_all()
            # Wakes every 20 ms to look at the socket: a client hanging up sends
            # nothing the condition could be notified of.
            while not self._changed.wait_for(lambda: self._open, 0.02):
                if _closed_by_peer(connection):
                    self.hung_up += 1
                    self._changed.notify_all()
                    return False
                if time.monotonic() > deadline:
                    break
        return True


def _closed_by_peer(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except ConnectionError:
        return True


@dataclass
class Fault:
    """How to misbehave on one request; the fields combine."""

    status: int | None = None  # answer with this status and the protocol's error body
    retry_after: int | None = None  # seconds, sent as the Retry-After header
    redirect_to: str | None = None  # answer 302 to this URL
    body: bytes | None = None  # this raw body instead of the protocol's (200 unless status)
    hold: Gate | None = None  # wait at this gate until the test opens it …
    hold_after_tokens: int | None = None  # … after this many tokens (0: after the headers,
    # before any token; None: before answering at all)
    cut_after_tokens: int | None = None  # drop the connection mid-stream
    malformed_after_tokens: int | None = None  # an SSE data line that is not JSON
    error_event_after_tokens: int | None = None  # an in-stream error event
    invalid_utf8_after_tokens: int | None = None  # a token whose bytes are not UTF-8 …
    invalid_utf8: bytes = b"\xff\xfe"  # … these, inside its otherwise valid JSON
    endless_event_after_tokens: int | None = None  # a data line that never ends (64 MiB)
    echo_key: str = ""  # quote the key received in the error message, as some do: a
    # KEY_ECHOES name, for the key as sent or changed the ways upstreams change it


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or None

    @property
    def protocol(self) -> str:
        return "anthropic" if "anthropic-version" in self.headers else "openai"

    @property
    def key(self) -> str:
        """The key sent: Anthropic takes x-api-key or a bearer token, OpenAI a bearer token."""
        bearer = self.headers.get("authorization", "").removeprefix("Bearer ")
        return self.headers.get("x-api-key", bearer)


NOT_JSON = object()  # a body was sent, and it is not JSON


def read_request(handler: BaseHTTPRequestHandler) -> RecordedRequest:
    """What `handler` was sent, its body parsed as JSON (None when absent, else NOT_JSON)."""
    parts = urlsplit(handler.path)
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = NOT_JSON
    return RecordedRequest(
        method=handler.command,
        path=parts.path,
        query={k: v[-1] for k, v in parse_qs(parts.query).items()},
        headers={k.lower(): v for k, v in handler.headers.items()},
        body=body,
    )


@dataclass
class FakeUpstream:
    api_key: str | None = None
    models: list[str] = field(default_factory=lambda: ["gpt-4o", "gpt-4o-mini"])
    reply: list[str] = field(default_factory=lambda: ["Hello", ",", " world", "!"])
    token_delay: float = 0.0
    cached_tokens: int = 0
    reports_usage: bool = True  # False: a streamed OpenAI answer without its usage chunk,
    # as some compatible servers send even when asked for it
    faults: list[Fault] = field(default_factory=list)  # consumed one per request, in order
    requests: list[RecordedRequest] = field(default_factory=list)
    base_url: str = ""
    anthropic_base_url: str = ""
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests handled at once, for concurrency bounds
    open_connections: int = 0  # client connections open now; a client closing ends its own
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_fault(self) -> Fault:
        with self._lock:
            return self.faults.pop(0) if self.faults else Fault()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def started(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def finished(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def connected(self, change: int) -> None:
        with self._lock:
            self.open_connections += change


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real upstreams' servers set it: without it each small SSE chunk on a
    # kept-alive connection waits for the client's delayed ACK (about 40 ms on Linux).
    disable_nagle_algorithm = True
    upstream: FakeUpstream

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; the requests are recorded instead

    def setup(self) -> None:
        super().setup()
        self.upstream.connected(+1)

    def finish(self) -> None:
        # Called once the connection is done: the client closed it, or a fault cut it.
        try:
            super().finish()
        finally:
            self.upstream.connected(-1)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        self.upstream.started()
        try:
            self._answer()
        finally:
            self.upstream.finished()

    def _answer(self) -> None:
        request = read_request(self)
        if request.body is NOT_JSON:
            request.body = None
        self.upstream.record(request)
        fault = self.upstream.next_fault()
        if self._left_while_held(fault, tokens_sent=None):
            return
        try:
            if fault.redirect_to:
                self._send(302, b"", headers={"Location": fault.redirect_to})
            elif fault.status:
                self._send_error(request, fault.status, fault, "Scripted failure")
            elif self.upstream.api_key is not None and request.key != self.upstream.api_key:
                self._send_error(request, 401, fault, "Incorrect API key provided")
            elif fault.body is not None:
                self._send(200, fault.body, content_type="application/json")
            else:
                self._route(request, fault)
        except ConnectionError:
            if fault.hold is not None:  # a client gone mid-write (before its gate, say) hung up too
                fault.hold.left_early()
            raise

    def _left_while_held(self, fault: Fault, *, tokens_sent: int | None) -> bool:
        """Wait at the fault's gate if it holds here (None: before answering); True if the
        client hung up meanwhile, and the connection is to be dropped."""
        if fault.hold is None or fault.hold_after_tokens != tokens_sent:
            return False
        if fault.hold.pass_through(self.connection):
            return False
        self.close_connection = True
        return True

    def _route(self, request: RecordedRequest, fault: Fault) -> None:
        routes = {
            ("GET", "/v1/models"): self._models,
            ("POST", "/v1/chat/completions"): self._chat_completion,
            ("POST", "/v1/messages"): self._message,
        }
        route = routes.get((request.method, request.path))
        if route is None:
            self._send_error(request, 404, fault, f"Unknown path {request.path}")
        else:
            route(request, fault)

    # --- responses ---------------------------------------------------------------------

    def _models(self, request: RecordedRequest, fault: Fault) -> None:
        ids = self.upstream.models
        if request.protocol == "openai":
            data = [{"id": i, "object": "model", "created": 0, "owned_by": "fake"} for i in ids]
            self._send_json({"object": "list", "data": data})
            return
        # Anthropic pages with after_id / limit: https://docs.anthropic.com/en/api/models-list
        limit = int(request.query.get("limit", 20))
        after = request.query.get("after_id")
        start = ids.index(after) + 1 if after in ids else 0
        page = ids[start : start + limit]
        data = [
            {
                "type": "model",
                "id": i,
                "display_name": i.title(),
                "created_at": "2025-01-01T00:00:00Z",
                "lifecycle": "active",
            }
            for i in page
        ]
        self._send_json(
            {
                "data": data,
                "has_more": start + limit < len(ids),
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            }
        )

    def _unknown_model(self, request: RecordedRequest, fault: Fault) -> bool:
        model = (request.body or {}).get("model")
        if model in self.upstream.models:
            return False
        self._send_error(request, 404, fault, f"The model `{model}` does not exist")
        return True

    def _reply(self, request: RecordedRequest) -> tuple[list[str], bool]:
        """The reply's tokens, cut at the request's output limit; True when it was cut."""
        body = request.body or {}
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        reply = self.upstream.reply
        if isinstance(limit, int) and limit < len(reply):
            return reply[:limit], True
        return reply, False

    @staticmethod
    def _prompt_tokens(request: RecordedRequest) -> int:
        messages = (request.body or {}).get("messages", [])
        return sum(len(str(m.get("content", ""))) for m in messages) // 4 + 1

    def _chat_completion(self, request: RecordedRequest, fault: Fault) -> None:
        if self._unknown_model(request, fault):
            return
        body = request.body or {}
        reply, cut = self._reply(request)
        finish = "length" if cut else "stop"
        prompt, completion = self._prompt_tokens(request), len(reply)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": self.upstream.cached_tokens},
        }
        base = {"id": "chatcmpl-fake", "created": 0, "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(reply)}
            choice = {"index": 0, "message": message, "finish_reason": finish}
            self._send_json(
                base | {"object": "chat.completion", "choices": [choice], "usage": usage}
            )
            return

        def chunk(delta: dict, finish: str | None = None) -> dict:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return base | {"object": "chat.completion.chunk", "choices": [choice]}

        events = [(None, chunk({"role": "assistant", "content": ""}))]
        events += [("token", chunk({"content": token})) for token in reply]
        events.append((None, chunk({}, finish)))
        if self.upstream.reports_usage and (body.get("stream_options") or {}).get("include_usage"):
            usage_chunk = base | {"object": "chat.completion.chunk", "choices": [], "usage": usage}
            events.append((None, usage_chunk))
        message = _echoed("The server had an error", request, fault)
        error = {"error": {"message": message, "type": "server_error"}}
        self._stream(events, fault, error_event=(None, error), done=True)

    def _message(self, request: RecordedRequest, fault: Fault) -> None:
        if self._unknown_model(request, fault):
            return
        body = request.body or {}
        reply, cut = self._reply(request)
        stop_reason = "max_tokens" if cut else "end_turn"
        prompt, completion = self._prompt_tokens(request), len(reply)
        text = "".join(reply)
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "stop_sequence": None,
        }
        usage = {"input_tokens": prompt, "cache_read_input_tokens": self.upstream.cached_tokens}
        if not body.get("stream"):
            content = [{"type": "text", "text": text}]
            usage["output_tokens"] = completion
            self._send_json(
                message | {"content": content, "stop_reason": stop_reason, "usage": usage}
            )
            return
        # Event order from https://docs.anthropic.com/en/docs/build-with-claude/streaming
        start = message | {
            "content": [],
            "stop_reason": None,
            "usage": usage | {"output_tokens": 1},
        }
        events = [
            ("message_start", {"type": "message_start", "message": start}),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            ("ping", {"type": "ping"}),
        ]
        events += [
            (
                "token",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": t},
                },
            )
            for t in reply
        ]
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": completion},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        message = _echoed("Overloaded", request, fault)
        error = {"type": "error", "error": {"type": "overloaded_error", "message": message}}
        self._stream(events, fault, error_event=("error", error), done=False)

    def _stream(
        self,
        events: list[tuple[str | None, dict]],
        fault: Fault,
        *,
        error_event: tuple[str | None, dict],
        done: bool,
    ) -> None:
        """Send SSE events; "token" events are the ones faults count and delays separate."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        for name, data in events:
            if name == "token":
                if self._left_while_held(fault, tokens_sent=sent):
                    return
                if sent == fault.cut_after_tokens:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # no final chunk: the client sees a cut
                    return
                if sent == fault.malformed_after_tokens:
                    event = b"" if done else b"event: content_block_delta\n"
                    self._write_chunk(event + _BROKEN_JSON_LINE)
                    self._end_chunks()
                    return
                if sent == fault.invalid_utf8_after_tokens:
                    marker = "\ue000"  # private use; json.dumps writes the six characters \ue000
                    line = json.dumps(_with_text(data, marker)).encode()
                    prefix = b"" if done else b"event: content_block_delta\n"
                    line = line.replace(b"\\ue000", fault.invalid_utf8)
                    self._write_chunk(prefix + b"data: " + line + b"\n\n")
                    self._end_chunks()
                    return
                if sent == fault.endless_event_after_tokens:
                    # Stops when the client hangs up, or after ENDLESS_LIMIT at the latest.
                    self._write_chunk(b'data: {"choices": [{"delta": {"content": "')
                    for _ in range(ENDLESS_LIMIT // len(_FILLER)):
                        self._write_chunk(_FILLER)
                    self._end_chunks()
                    return
                if sent == fault.error_event_after_tokens:
                    self._write_event(*error_event)
                    self._end_chunks()
                    return
                if sent:
                    time.sleep(self.upstream.token_delay)
                sent += 1
                name = None if done else "content_block_delta"
            self._write_event(name, data)
        if done:
            self._write_chunk(b"data: [DONE]\n\n")
        self._end_chunks()

    def _write_event(self, name: str | None, data: dict) -> None:
        prefix = f"event: {name}\n" if name else ""
        self._write_chunk(f"{prefix}data: {json.dumps(data)}\n\n".encode())

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_error(
        self, request: RecordedRequest, status: int, fault: Fault, message: str
    ) -> None:
        message = _echoed(message, request, fault)
        if request.protocol == "anthropic":
            error_type = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
            body = {"type": "error", "error": {"type": error_type, "message": message}}
        else:
            code = _OPENAI_ERROR_CODES.get(status)
            body = {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": code,
                }
            }
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        self._send(
            status, json.dumps(body).encode(), content_type="application/json", headers=headers
        )

    def _send_json(self, payload: dict) -> None:
        self._send(200, json.dumps(payload).encode(), content_type="application/json")

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _echoed(message: str, request: RecordedRequest, fault: Fault) -> str:
    if not fault.echo_key:
        return message
    return f"{message}: {KEY_ECHOES[fault.echo_key](request.key)}"


def _with_text(event: dict, text: str) -> dict:
    """A token event (either protocol's) carrying `text` instead of its own."""
    if "delta" in event:  # Anthropic's content_block_delta
        return event | {"delta": event["delta"] | {"text": text}}
    choice = event["choices"][0]
    return event | {"choices": [choice | {"delta": {"content": text}}]}


class _Server(ThreadingHTTPServer):
    # A deep accept queue: with the default of 5, a burst of streams waits a SYN retry (1 s).
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (a Stop, a size limit, a closed tab) is what
        # the tests provoke, not a fault of the fake: no traceback for it.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serving(upstream: FakeUpstream, port: int = 0) -> Iterator[FakeUpstream]:
    """Serve `upstream` on 127.0.0.1 (port 0: any free port) until the block ends."""
    handler = type("Handler", (_Handler,), {"upstream": upstream})
    server = _Server(("127.0.0.1", port), handler)
    server.daemon_threads = True
    upstream.anthropic_base_url = f"http://127.0.0.1:{server.server_port}"
    upstream.base_url = f"{upstream.anthropic_base_url}/v1"
    with in_background(server):
        yield upstream


@contextmanager
def in_background(server: ThreadingHTTPServer) -> Iterator[None]:
    """Run `server` on a thread of its own until the block ends (every fake's way)."""
    # A short poll interval: shutdown() waits for the loop to notice, once per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fake LLM upstream on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--key", default=None, help="the only API key accepted (default: any)")
    parser.add_argument("--tokens", type=int, default=20, help="tokens in each streamed reply")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between tokens")
    args = parser.parse_args()
    upstream = FakeUpstream(
        api_key=args.key,
        reply=[f" tok{i}" for i in range(args.tokens)],
        token_delay=args.token_delay,
    )
    with serving(upstream, args.port):
        print(f"Fake upstream on {upstream.base_url} (Anthropic: {upstream.anthropic_base_url})")
        threading.Event().wait()


if __name__ == "__main__":
    main()
