"""Anthropic's Messages API, through the official anthropic SDK (AsyncAnthropic)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2

from providers.runners.base import (
    ChatRequest,
    Event,
    Finish,
    ProviderTarget,
    TextDelta,
    UpstreamModel,
    Usage,
    sdk_options,
    translated_errors,
)

# Anthropic requires max_tokens on every request; this applies when the model sets none.
DEFAULT_MAX_TOKENS = 4096


class AnthropicRunner:
    def __init__(self, target: ProviderTarget, *, http_client: httpx2.AsyncClient) -> None:
        self._target = target
        self._client = anthropic.AsyncAnthropic(
            api_key=target.api_key, **sdk_options(target, http_client)
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        input_tokens = cached = output_tokens = 0
        stop_reason = ""
        with translated_errors(anthropic, secret=self._target.api_key):
            events = await self._client.messages.create(
                model=request.model_id,
                messages=[
                    {"role": m.role, "content": m.content}
                    for m in request.messages
                    if m.role != "system"
                ],
                stream=True,
                **self._parameters(request),
            )
            async with events:  # closing our stream closes the response now (see openai.py)
                # Event order: https://docs.anthropic.com/en/docs/build-with-claude/streaming
                # (the SDK drops `ping`; an `error` event raises).
                async for event in events:
                    if event.type == "message_start":
                        usage = event.message.usage
                        input_tokens = usage.input_tokens
                        cached = usage.cache_read_input_tokens or 0
                    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                        yield TextDelta(event.delta.text)
                    elif event.type == "message_delta":
                        output_tokens = event.usage.output_tokens
                        stop_reason = event.delta.stop_reason or ""
                    elif event.type == "message_stop":
                        # Anthropic counts cache reads apart from input_tokens; Usage
                        # counts them in, as OpenAI does.
                        yield Usage(input_tokens + cached, output_tokens, cached)
                        # https://docs.anthropic.com/en/api/handling-stop-reasons
                        yield Finish(stop_reason, at_output_limit=stop_reason == "max_tokens")

    @staticmethod
    def _parameters(request: ChatRequest) -> dict[str, Any]:
        settings = request.settings
        # Anthropic requires max_tokens. Its current Messages API takes no temperature,
        # top_p or penalties (SDK 2.x has no such arguments), so those settings stay
        # OpenAI-only.
        parameters: dict[str, Any] = {"max_tokens": settings.get("max_tokens", DEFAULT_MAX_TOKENS)}
        if "stop" in settings:
            parameters["stop_sequences"] = settings["stop"]
        # The system prompt is a parameter here, not a message.
        system = [settings.get("system_prompt", "")]
        system += [m.content for m in request.messages if m.role == "system"]
        if any(system):
            parameters["system"] = "\n\n".join(part for part in system if part)
        return parameters

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
