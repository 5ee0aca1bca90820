"""Which runner serves a provider: dispatch on its protocol, one entry per protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from django.utils.module_loading import import_string

from providers import outbound
from providers.runners.base import ProviderTarget, Runner

# Dotted paths, imported on first use: the two SDKs take about 1.6 s to import, which
# every manage.py command and worker start would otherwise pay (python -X importtime).
RUNNERS = {
    "openai": "providers.runners.openai.OpenAIRunner",
    "anthropic": "providers.runners.anthropic.AnthropicRunner",
}


@asynccontextmanager
async def open_runner(target: ProviderTarget) -> AsyncIterator[Runner]:
    """A runner on a fresh guarded client, closed when the block ends."""
    client = outbound.build_client(
        allow_private_network=target.allow_private_network,
        timeout=httpx2.Timeout(target.read_timeout, connect=target.connect_timeout),
    )
    runner = import_string(RUNNERS[target.protocol])(target, http_client=client)
    try:
        yield runner
    finally:
        await runner.aclose()
