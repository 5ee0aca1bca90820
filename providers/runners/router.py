"""Which runner serves a provider.

Runners dispatch on the provider's protocol, one entry per protocol. A chat keeps one
long-lived runner per provider (its HTTP connections pooled), rebuilt when the provider's
settings or key change, and closed once no stream uses it any more; any process can
rebuild it, so it may live in this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import aclosing, asynccontextmanager, contextmanager
from dataclasses import dataclass

import httpx2
from django.utils.module_loading import import_string

from providers.keys.redaction import redact
from providers.runners.base import (
    ChatRequest,
    ConfigurationError,
    Event,
    ProviderTarget,
    Runner,
)
from providers.upstream import transport

# Dotted paths, imported on first use: the two SDKs take about 1.6 s to import, which
# every manage.py command would otherwise pay (python -X importtime), and hold about 40 MB
# each in every worker that imported them.
RUNNERS = {
    "openai": "providers.runners.openai.OpenAIRunner",
    "anthropic": "providers.runners.anthropic.AnthropicRunner",
}


# The protocols whose runner this process has imported, imports that are under way not
# among them: an SDK half imported is in sys.modules, and importing it again from the
# event loop would wait there for the other thread's import to finish.
_imported_protocols: set[str] = set()


def preload_runners(protocols: Iterable[str]) -> None:
    """Import the runners of `protocols` now: a server pays their SDKs' import at start,
    not on a first chat (config.asgi). Another protocol's is imported when first used."""
    for protocol in protocols:
        import_string(RUNNERS[protocol])
        _imported_protocols.add(protocol)


async def _imported(protocol: str) -> None:
    """The runner of `protocol` imported, off the event loop: importing an SDK is a
    second of CPU that would stall every stream of the worker (a provider of another
    protocol enabled since the server started)."""
    if protocol not in _imported_protocols:
        await asyncio.to_thread(preload_runners, [protocol])


def build_runner(target: ProviderTarget) -> Runner:
    """A runner on a new guarded client. Raises ConfigurationError."""
    _check_base_url(target)
    client = transport.build_client(
        allow_private_network=target.allow_private_network,
        timeout=httpx2.Timeout(target.read_timeout, connect=target.connect_timeout),
    )
    return import_string(RUNNERS[target.protocol])(target, http_client=client)


def _check_base_url(target: ProviderTarget) -> None:
    """Refuse a stored base URL the HTTP client cannot use (saved past the admin's checks:
    an old row, a raw UPDATE). The SDKs parse it in their constructors, where no error is
    translated, and a port past 65535 fails in the socket layer with an error neither
    SDK wraps: either would end a bulk verify, or a stream, in a traceback."""
    try:
        url = httpx2.URL(target.base_url)
    except httpx2.InvalidURL as error:
        raise ConfigurationError(
            detail=redact(f"Its base URL does not parse: {error}.", target.api_key)
        ) from None
    if url.scheme not in ("http", "https"):
        raise ConfigurationError(detail="Its base URL is not an http:// or https:// URL.")
    if not url.host:
        raise ConfigurationError(detail="Its base URL names no host.")
    if url.port is not None and url.port > 65535:
        raise ConfigurationError(detail=f"Its base URL's port, {url.port}, is past 65535.")


@asynccontextmanager
async def open_runner(target: ProviderTarget) -> AsyncIterator[Runner]:
    """A runner on a fresh guarded client, closed when the block ends (verify, discovery)."""
    await _imported(target.protocol)  # a switched-off provider's SDK may not be loaded yet
    runner = build_runner(target)
    try:
        yield runner
    finally:
        await runner.aclose()


@dataclass
class _Cached:
    target: ProviderTarget
    loop: asyncio.AbstractEventLoop  # an httpx client is bound to the loop it ran on
    runner: Runner
    streams: int = 0  # streams reading from it now
    retired: bool = False  # out of the cache: closed when its last stream ends


# A digest of (provider name, key) → the provider's runner. Personal keys get runners of
# their own; past RUNNER_CACHE_SIZE the least recently used leaves. Keyed by a digest so
# that no module-level dict holds keys as its keys (the runner itself needs its key).
_runners: OrderedDict[bytes, _Cached] = OrderedDict()
RUNNER_CACHE_SIZE = 256
_lock = threading.Lock()  # each thread with an event loop of its own may stream
_closing: set[asyncio.Task] = set()  # a task nothing refers to may be collected unfinished


@contextmanager
def runner_for(target: ProviderTarget) -> Iterator[Runner]:
    """The provider's long-lived runner, held for the block; a changed target (URL, key,
    timeouts) gets a new one.

    A runner that leaves the cache (replaced, or the least recently used past
    RUNNER_CACHE_SIZE) is closed, its connections with it, once no block holds it: a
    stream may still be reading from it.
    """
    loop = asyncio.get_running_loop()
    slot = hashlib.sha256(json.dumps([target.name, target.api_key]).encode()).digest()
    with _lock:
        cached = _runners.get(slot)
        if cached and cached.target == target and cached.loop is loop:
            _runners.move_to_end(slot)
        else:
            runner = build_runner(target)  # first: if it raises, the cache is as it was
            if cached:
                _retire(cached)
            cached = _runners[slot] = _Cached(target, loop, runner)
            while len(_runners) > RUNNER_CACHE_SIZE:
                _retire(_runners.popitem(last=False)[1])
        cached.streams += 1
    try:
        yield cached.runner
    finally:
        with _lock:
            cached.streams -= 1
            if cached.retired and not cached.streams:
                _close(cached)


def _retire(cached: _Cached) -> None:
    cached.retired = True
    if not cached.streams:
        _close(cached)


def _close(cached: _Cached) -> None:
    """Close the runner on its own loop. A loop no longer running (a test's, or a
    worker's that has ended) can run nothing more; its sockets close when collected."""
    if not cached.loop.is_running():
        return
    try:
        here = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    if cached.loop is here:
        task = here.create_task(cached.runner.aclose())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
    else:
        asyncio.run_coroutine_threadsafe(cached.runner.aclose(), cached.loop)


async def stream_reply(target: ProviderTarget, request: ChatRequest) -> AsyncIterator[Event]:
    """The answer's events from the provider's long-lived runner: one try (the chat
    decides about another, sessions_app/attempts.py)."""
    await _imported(target.protocol)
    with runner_for(target) as runner:
        # aclosing: when our caller closes this stream (a Stop, a cut), the runner's
        # stream closes with it, and its HTTP response, not when collected.
        async with aclosing(runner.stream(request)) as events:
            async for event in events:
                yield event
