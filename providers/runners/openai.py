"""The OpenAI-compatible protocol, through the official openai SDK (AsyncOpenAI).

Serves OpenAI and every vendor with an OpenAI-compatible API (Groq, DeepSeek, Mistral,
OpenRouter, Qwen, GLM, Moonshot, Ollama). The SDK parses the wire format; this module
only maps our values onto it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk

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


class OpenAIRunner:
    def __init__(self, target: ProviderTarget, *, http_client: httpx2.AsyncClient) -> None:
        self._target = target
        self._client = openai.AsyncOpenAI(
            api_key=target.api_key or "none",  # Ollama needs no key; the SDK refuses an empty one
            **sdk_options(target, http_client),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        with translated_errors(openai, secret=self._target.api_key):
            body = {
                "model": request.model_id,
                "messages": self._messages(request),
                "stream": True,
                "stream_options": {"include_usage": True},
                **self._parameters(request.settings),
            }
            # Not chat.completions.create(): it first walks the whole body against the
            # SDK's typed dicts (for aliases and files, which ours never hold), 0.15 ms a
            # message on the event loop, 15 ms for a chat of 100 (bench/README.md). The
            # same request through the SDK's post(), which it documents for this.
            chunks = await self._client.post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                options={"security": {"bearer_auth": True}},
                stream=True,
                stream_cls=openai.AsyncStream[ChatCompletionChunk],
            )
            # Closing our stream (a Stop, a cut) closes the HTTP response now, not when
            # the SDK's iterator is collected, which may be never while a cycle holds it.
            async with chunks:
                async for chunk in chunks:
                    for choice in chunk.choices:
                        if choice.delta.content:  # the first chunk carries the role and ""
                            yield TextDelta(choice.delta.content)
                        if choice.finish_reason:
                            # https://platform.openai.com/docs/api-reference/chat/object
                            cut = choice.finish_reason == "length"
                            yield Finish(choice.finish_reason, at_output_limit=cut)
                    if chunk.usage:  # comes last, in a chunk with no choices
                        details = chunk.usage.prompt_tokens_details
                        yield Usage(
                            chunk.usage.prompt_tokens,
                            chunk.usage.completion_tokens,
                            (details.cached_tokens or 0) if details else 0,
                        )

    @staticmethod
    def _messages(request: ChatRequest) -> list[dict[str, str]]:
        system = request.settings.get("system_prompt")
        messages = [{"role": "system", "content": system}] if system else []
        return messages + [{"role": m.role, "content": m.content} for m in request.messages]

    def _parameters(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        passed = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "stop")
        parameters = {name: settings[name] for name in passed if name in settings}
        if "max_tokens" in settings:
            parameters[self._target.output_limit_param] = settings["max_tokens"]
        return parameters

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
