"""Collecting a runner's stream against the fake upstream, for the runner tests."""

from __future__ import annotations

from typing import Any

from fakes.upstream import FakeUpstream
from providers.runners.base import ChatMessage, ChatRequest, Event, ProviderTarget
from providers.runners.router import open_runner

KEY = "sk-test-FAKE.5f1c2b7d9e0a.1b2c"  # fake, but shaped like a real key


def target_for(upstream: FakeUpstream, protocol: str, **overrides: Any) -> ProviderTarget:
    base_url = upstream.anthropic_base_url if protocol == "anthropic" else upstream.base_url
    fields = {
        "name": "Fake",
        "protocol": protocol,
        "base_url": base_url,
        "api_key": KEY,
        "allow_private_network": True,
    } | overrides
    return ProviderTarget(**fields)


def hello(model_id: str, **settings: Any) -> ChatRequest:
    return ChatRequest(model_id, (ChatMessage("user", "Hello there"),), settings)


async def collect(target: ProviderTarget, request: ChatRequest, *, into: list[Event]) -> None:
    """Stream into `into`, so a test still sees what arrived before an error."""
    async with open_runner(target) as runner:
        async for event in runner.stream(request):
            into.append(event)
