"""Anthropic's Messages API, through the official anthropic SDK (AsyncAnthropic)."""

from __future__ import annotations

import anthropic
import httpx2

from providers.runners.base import (
    ProviderTarget,
    UpstreamModel,
    sdk_options,
    translated_errors,
)


class AnthropicRunner:
    def __init__(self, target: ProviderTarget, *, http_client: httpx2.AsyncClient) -> None:
        self._target = target
        self._client = anthropic.AsyncAnthropic(
            api_key=target.api_key, **sdk_options(target, http_client)
        )

    async def list_models(self) -> list[UpstreamModel]:
        # The SDK's page follows after_id / has_more across every page.
        with translated_errors(anthropic, secret=self._target.api_key):
            page = await self._client.models.list(limit=100)
            return [UpstreamModel(model.id, model.display_name) async for model in page]

    async def check(self, model_id: str) -> None:
        with translated_errors(anthropic, secret=self._target.api_key):
            await self._client.messages.create(
                model=model_id, max_tokens=1, messages=[{"role": "user", "content": "ping"}]
            )

    async def aclose(self) -> None:
        await self._client.close()
