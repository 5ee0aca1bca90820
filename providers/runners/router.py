"""Which runner serves a provider, and which model serves a message.

Runners dispatch on the provider's protocol, one entry per protocol. A chat keeps one
long-lived runner per provider (its HTTP connections pooled), rebuilt when the provider's
settings or key change; any process can rebuild it, so it may live in this module.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from django.db.models import Case, When
from django.utils.module_loading import import_string

from providers import outbound
from providers.models import LLMModel
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


class NoUsableModelError(Exception):
    """No model may answer: nothing is enabled, or the chosen model was switched off."""

    def __init__(self, user_message: str) -> None:
        self.user_message = user_message
        super().__init__(user_message)


NOTHING_ENABLED = (
    "No model can answer yet: in the admin, enable a provider that has an API key (or "
    "needs none, like Ollama) and at least one of its models."
)


def resolve_model(*, chosen: LLMModel | None = None, current: LLMModel | None = None) -> LLMModel:
    """The model for a message: the one chosen for it, else the session's current model,
    else the first usable one. A chosen model that may not be used is an error, not a
    silent switch; a session's stale current model is simply passed over."""
    usable = LLMModel.objects.usable()
    if chosen is not None:
        found = usable.filter(pk=chosen.pk).first()
        if found is None:
            raise NoUsableModelError(
                f"{chosen.label} cannot be used now: it or its provider is switched off, "
                "or the provider has no key. Pick another model."
            )
        return found
    if current is not None and (found := usable.filter(pk=current.pk).first()):
        return found
    first = usable.order_by("provider__name", "-is_default", "model_id").first()
    if first is None:
        raise NoUsableModelError(NOTHING_ENABLED)
    return first


def resolve_model_id(model_id: str) -> LLMModel:
    """A bare model id (commands, config files): the enabled provider that owns it,
    preferring one that holds a key of its own."""
    found = (
        LLMModel.objects.usable()
        .filter(model_id=model_id)
        .annotate(keyed=Case(When(provider__api_key="", then=0), default=1))
        .order_by("-keyed", "provider__name")
        .first()
    )
    if found is None:
        raise NoUsableModelError(f"No enabled provider offers a model with the id {model_id}.")
    return found


# Dotted paths, imported on first use: the two SDKs take about 1.6 s to import, which
# every manage.py command and worker start would otherwise pay (python -X importtime).
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


# provider name → (its target, the event loop its client belongs to, the runner)
_runners: dict[str, tuple[ProviderTarget, asyncio.AbstractEventLoop, Runner]] = {}


def runner_for(target: ProviderTarget) -> Runner:
    """The provider's long-lived runner; a changed target (URL, key, timeouts) gets a new one.

    A replaced runner is not closed here: a stream may still be reading from it. Its
    connections close when it is collected.
    """
    loop = asyncio.get_running_loop()  # an httpx client is bound to the loop it ran on
    cached = _runners.get(target.name)
    if cached and cached[0] == target and cached[1] is loop:
        return cached[2]
    runner = build_runner(target)
    _runners[target.name] = (target, loop, runner)
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
            async for event in runner.stream(request):
                relayed = relayed or isinstance(event, TextDelta)
                yield event
        except (UnavailableError, UpstreamTimeoutError) as error:
            if relayed or attempt == 2:
                raise
            logger.warning("Retrying %s once: %s", target.name, error.description)
        else:
            return
