"""Which runner serves a provider.

Runners dispatch on the provider's protocol, one entry per protocol. A chat keeps one
long-lived runner per provider (its HTTP connections pooled), rebuilt when the provider's
settings or key change; any process can rebuild it, so it may live in this module.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

import httpx2
from django.utils.module_loading import import_string

from providers import outbound
from providers.runners.base import (
    ChatRequest,
    Event,
    ProviderTarget,
    Runner,
    TextDelta,
    UnavailableError,
    UpstreamTimeoutError,
)

logger = logging.getLogger(__name__)

# Dotted paths, imported on first use: the two SDKs take about 1.6 s to import, which
# every manage.py command would otherwise pay (python -X importtime).
RUNNERS = {
    "openai": "providers.runners.openai.OpenAIRunner",
    "anthropic": "providers.runners.anthropic.AnthropicRunner",
}


def preload_runners() -> None:
    """Import every runner now: a server pays the SDK import at start, not on a first chat."""
    for path in RUNNERS.values():
        import_string(path)


def build_runner(target: ProviderTarget) -> Runner:
    client = outbound.build_client(
        allow_private_network=target.allow_private_network,
        timeout=httpx2.Timeout(target.read_timeout, connect=target.connect_timeout),
    )
    return import_string(RUNNERS[target.protocol])(target, http_client=client)


@asynccontextmanager
async def open_runner(target: ProviderTarget) -> AsyncIterator[Runner]:
    """A runner on a fresh guarded client, closed when the block ends (verify, discovery)."""
    runner = build_runner(target)
    try:
        yield runner
    finally:
        await runner.aclose()


# (provider name, key) → (its target, the event loop its client belongs to, the runner).
# Personal keys get runners of their own; the oldest are dropped past RUNNER_CACHE_SIZE.
_runners: OrderedDict[tuple[str, str], tuple[ProviderTarget, asyncio.AbstractEventLoop, Runner]]
_runners = OrderedDict()
RUNNER_CACHE_SIZE = 256


def runner_for(target: ProviderTarget) -> Runner:
    """The provider's long-lived runner; a changed target (URL, key, timeouts) gets a new one.

    A replaced runner is not closed here: a stream may still be reading from it. Its
    connections close when it is collected.
    """
    loop = asyncio.get_running_loop()  # an httpx client is bound to the loop it ran on
    slot = (target.name, target.api_key)
    cached = _runners.get(slot)
    if cached and cached[0] == target and cached[1] is loop:
        _runners.move_to_end(slot)
        return cached[2]
    runner = build_runner(target)
    _runners[slot] = (target, loop, runner)
    if len(_runners) > RUNNER_CACHE_SIZE:
        _runners.popitem(last=False)
    return runner


async def stream_reply(target: ProviderTarget, request: ChatRequest) -> AsyncIterator[Event]:
    """The answer's events, with at most one retry, and only before the first token.

    After a token the person has seen text, and a retry would repeat it; errors a retry
    cannot fix (a bad key, a bad request, a rate limit) are not retried at all.
    """
    runner = runner_for(target)
    for attempt in (1, 2):
        relayed = False
        try:
            # aclosing: when our caller closes this stream (a Stop, a closed tab), the
            # runner's stream closes with it, and its HTTP response, not when collected.
            async with aclosing(runner.stream(request)) as events:
                async for event in events:
                    relayed = relayed or isinstance(event, TextDelta)
                    yield event
        except (UnavailableError, UpstreamTimeoutError) as error:
            if relayed or attempt == 2:
                raise
            logger.warning("Retrying %s once: %s", target.name, error.description)
        else:
            return
