"""The OpenAI-compatible protocol, through the official openai SDK (AsyncOpenAI).

Serves OpenAI and every vendor with an OpenAI-compatible API (Groq, DeepSeek, Mistral,
OpenRouter, Qwen, GLM, Moonshot, Ollama). The SDK parses the wire format; this module
only maps our values onto it.
"""

from __future__ import annotations

import httpx2
import openai

from providers.runners.base import (
    ProviderTarget,
    UpstreamModel,
    sdk_options,
    translated_errors,
)


class OpenAIRunner:
    def __init__(self, target: ProviderTarget, *, http_client: httpx2.AsyncClient) -> None:
        self._target = target
        self._client = openai.AsyncOpenAI(
            api_key=target.api_key or "none",  # Ollama needs no key; the SDK refuses an empty one
            **sdk_options(target, http_client),
        )

    async def list_models(self) -> list[UpstreamModel]:
        with translated_errors(openai, secret=self._target.api_key):
            page = await self._client.models.list()
            return [UpstreamModel(model.id) async for model in page]

    async def check(self, model_id: str) -> None:
        # OpenAI's own API wants max_completion_tokens for its newer models; most
        # compatible APIs know only max_tokens (the preset says which).
        limit = {self._target.output_limit_param: 1}
        with translated_errors(openai, secret=self._target.api_key):
            await self._client.chat.completions.create(
                model=model_id, messages=[{"role": "user", "content": "ping"}], **limit
            )

    async def aclose(self) -> None:
        await self._client.close()
