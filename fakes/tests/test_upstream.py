"""The fake speaks the real wire formats: the official SDKs are the judges."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import anthropic
import httpx2
import openai
import pytest

from fakes.upstream import FakeUpstream, Fault, Gate

pytestmark = pytest.mark.anyio

KEY = "sk-test-5f1c2b7d9e0a"


def openai_sdk(upstream: FakeUpstream, key: str = KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=upstream.base_url, api_key=key, max_retries=0, _strict_response_validation=True
    )


def anthropic_sdk(upstream: FakeUpstream, key: str = KEY) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=upstream.anthropic_base_url,
        api_key=key,
        max_retries=0,
        _strict_response_validation=True,
    )


@pytest.fixture
async def openai_client(fake_upstream: FakeUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai_sdk(fake_upstream) as client:
        yield client


@pytest.fixture
async def anthropic_client(fake_upstream: FakeUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    fake_upstream.models = ["claude-sonnet-5-5"]
    async with anthropic_sdk(fake_upstream) as client:
        yield client


async def drain(stream: AsyncIterator, *, into: list | None = None) -> None:
    async for event in stream:
        if into is not None:
            into.append(event)


HELLO = [{"role": "user", "content": "Hello there"}]


async def test_openai_stream_has_deltas_finish_usage_and_done(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    fake_upstream.cached_tokens = 3
    stream = await openai_client.chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )

    chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello, world!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 4
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 3


async def test_openai_non_streamed_completion(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    completion = await openai_client.chat.completions.create(model="gpt-4o", messages=HELLO)

    assert completion.choices[0].message.content == "Hello, world!"
    assert fake_upstream.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_openai_models_list(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    page = await openai_client.models.list()

    assert [model.id async for model in page] == ["gpt-4o", "gpt-4o-mini"]


async def test_a_wrong_key_is_a_401_in_each_protocols_shape(fake_upstream: FakeUpstream) -> None:
    fake_upstream.api_key = KEY

    async with openai_sdk(fake_upstream, "sk-wrong") as openai_client:
        with pytest.raises(openai.AuthenticationError):
            await openai_client.models.list()
    async with anthropic_sdk(fake_upstream, "sk-ant-wrong") as anthropic_client:
        with pytest.raises(anthropic.AuthenticationError):
            await anthropic_client.models.list()


async def test_scripted_statuses_reach_the_sdk(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    fake_upstream.faults += [Fault(status=429, retry_after=7), Fault(status=503)]
    client = openai_client

    with pytest.raises(openai.RateLimitError) as limited:
        await client.models.list()
    with pytest.raises(openai.InternalServerError):
        await client.models.list()

    assert limited.value.response.headers["retry-after"] == "7"


async def test_a_cut_stream_is_an_error_not_a_clean_end(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    fake_upstream.faults.append(Fault(cut_after_tokens=2))
    stream = await openai_client.chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True
    )
    received: list = []

    with pytest.raises(openai.APIConnectionError) as cut:
        await drain(stream, into=received)

    assert "".join(c.choices[0].delta.content or "" for c in received) == "Hello,"
    assert isinstance(cut.value.__cause__, httpx2.RemoteProtocolError)


async def test_a_malformed_sse_line_fails_json_decoding(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    fake_upstream.faults.append(Fault(malformed_after_tokens=1))
    stream = await openai_client.chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True
    )

    with pytest.raises(json.JSONDecodeError):
        await drain(stream)


async def test_anthropic_stream_events_in_order(
    fake_upstream: FakeUpstream, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    stream = await anthropic_client.messages.create(
        model="claude-sonnet-5-5", max_tokens=100, messages=HELLO, stream=True
    )

    events = [event async for event in stream]

    types = [event.type for event in events]
    assert types[:2] == ["message_start", "content_block_start"]  # the SDK drops pings
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == "Hello, world!"
    assert events[-2].delta.stop_reason == "end_turn"
    assert events[-2].usage.output_tokens == 4
    request = fake_upstream.requests[0]
    assert (request.key, request.protocol) == (KEY, "anthropic")
    assert "anthropic-version" in request.headers


async def test_anthropic_in_stream_error_event(
    fake_upstream: FakeUpstream, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    fake_upstream.faults.append(Fault(error_event_after_tokens=1))
    stream = await anthropic_client.messages.create(
        model="claude-sonnet-5-5", max_tokens=100, messages=HELLO, stream=True
    )

    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        await drain(stream)


async def test_anthropic_non_streamed_message(
    fake_upstream: FakeUpstream, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    message = await anthropic_client.messages.create(
        model="claude-sonnet-5-5", max_tokens=100, messages=HELLO
    )

    assert message.content[0].text == "Hello, world!"
    assert message.stop_reason == "end_turn"


async def test_anthropic_models_paginate_with_after_id(
    fake_upstream: FakeUpstream, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    fake_upstream.models = [f"claude-{n}" for n in range(7)]

    page = await anthropic_client.models.list(limit=3)

    assert [model.id async for model in page] == fake_upstream.models
    assert [r.query.get("after_id") for r in fake_upstream.requests] == [
        None,
        "claude-2",
        "claude-5",
    ]


async def test_an_unknown_model_is_a_404(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        await openai_client.chat.completions.create(model="gpt-9", messages=HELLO)


async def test_a_redirect_is_answered_not_followed_by_the_fake(fake_upstream: FakeUpstream) -> None:
    fake_upstream.faults.append(Fault(redirect_to="http://169.254.169.254/latest/meta-data/"))

    async with httpx2.AsyncClient() as client:
        response = await client.get(fake_upstream.base_url + "/models")

    assert response.status_code == 302
    assert response.headers["location"] == "http://169.254.169.254/latest/meta-data/"


async def test_anthropic_streams_carry_pings_on_the_wire(fake_upstream: FakeUpstream) -> None:
    fake_upstream.models = ["claude-sonnet-5-5"]
    body = {"model": "claude-sonnet-5-5", "max_tokens": 10, "messages": HELLO, "stream": True}
    headers = {"anthropic-version": "2023-06-01", "x-api-key": KEY}

    async with httpx2.AsyncClient() as client:
        response = await client.post(
            fake_upstream.anthropic_base_url + "/v1/messages", json=body, headers=headers
        )

    names = [
        line.removeprefix("event: ")
        for line in response.text.splitlines()
        if line.startswith("event: ")
    ]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-1] == "message_stop"


async def test_a_gate_holds_the_stream_after_n_tokens_until_the_test_opens_it(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=2))
    stream = await openai_client.chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True
    )
    chunks = aiter(stream)
    before = [await anext(chunks) for _ in range(3)]  # the role chunk, then two tokens

    gate.wait_held()
    gate.open()
    after = [chunk async for chunk in chunks]

    def text(chunks: list) -> str:
        return "".join(c.choices[0].delta.content or "" for c in chunks)

    assert (text(before), text(after)) == ("Hello,", " world!")
    assert gate.hung_up == 0


async def test_a_client_hanging_up_at_a_gate_is_counted(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=0))
    stream = await openai_client.chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True
    )
    gate.wait_held()

    await stream.close()

    gate.wait_hung_up()
    assert (gate.held, gate.hung_up) == (1, 1)


async def test_a_client_hanging_up_before_the_gate_is_counted_too(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    # A client that stops reading early (a size limit) may leave while the fake is still
    # writing toward its gate: far more than any socket buffer holds, so a write fails.
    fake_upstream.reply = ["x" * 10_000] * 2_000
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate, hold_after_tokens=1_999))
    stream = await openai_client.chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True
    )
    await anext(aiter(stream))

    await stream.close()

    gate.wait_hung_up()
    assert (gate.held, gate.hung_up) == (0, 1)


async def test_a_gate_before_the_headers_holds_the_whole_answer(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    gate = Gate()
    fake_upstream.faults.append(Fault(hold=gate))
    models = asyncio.ensure_future(openai_client.models.list())
    await asyncio.to_thread(gate.wait_held)

    assert not models.done()
    gate.open()
    assert [model.id async for model in await models] == ["gpt-4o", "gpt-4o-mini"]


async def test_openai_output_limit_ends_the_stream_with_finish_reason_length(
    fake_upstream: FakeUpstream, openai_client: openai.AsyncOpenAI
) -> None:
    stream = await openai_client.chat.completions.create(
        model="gpt-4o",
        messages=HELLO,
        max_completion_tokens=2,
        stream=True,
        stream_options={"include_usage": True},
    )

    chunks = [chunk async for chunk in stream]

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello,"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 2


async def test_anthropic_output_limit_ends_the_stream_with_stop_reason_max_tokens(
    fake_upstream: FakeUpstream, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    stream = await anthropic_client.messages.create(
        model="claude-sonnet-5-5", max_tokens=3, messages=HELLO, stream=True
    )

    events = [event async for event in stream]

    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == "Hello, world"
    assert events[-2].delta.stop_reason == "max_tokens"
    assert events[-2].usage.output_tokens == 3
