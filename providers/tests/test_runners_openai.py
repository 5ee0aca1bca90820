from __future__ import annotations

import pytest

from fakes.upstream import FakeUpstream, Fault, Gate
from providers.runners.base import (
    AuthError,
    BadRequestError,
    ChatMessage,
    ChatRequest,
    Event,
    Finish,
    ForbiddenError,
    MalformedResponseError,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
    TextDelta,
    UnavailableError,
    UnreachableError,
    UpstreamTimeoutError,
    Usage,
)
from providers.tests.runner_support import KEY, collect, hello, target_for

pytestmark = pytest.mark.anyio


async def test_it_streams_deltas_then_finish_then_usage(fake_upstream: FakeUpstream) -> None:
    fake_upstream.cached_tokens = 2
    events: list[Event] = []

    await collect(target_for(fake_upstream, "openai"), hello("gpt-4o"), into=events)

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello", ",", " world", "!"]
    assert events[-2:] == [Finish("stop"), Usage(3, 4, 2)]  # the fake counts 4 chars a token
    sent = fake_upstream.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("limit_param", ["max_tokens", "max_completion_tokens"])
async def test_an_answer_cut_at_max_tokens_finishes_at_the_output_limit(
    fake_upstream: FakeUpstream, limit_param: str
) -> None:
    events: list[Event] = []
    target = target_for(fake_upstream, "openai", output_limit_param=limit_param)

    await collect(target, hello("gpt-4o", max_tokens=2), into=events)

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello", ","]
    assert events[-2:] == [Finish("length", at_output_limit=True), Usage(3, 2, 0)]


async def test_settings_map_onto_the_request(fake_upstream: FakeUpstream) -> None:
    request = hello(
        "gpt-4o",
        temperature=1.5,
        top_p=0.9,
        max_tokens=256,
        stop=["END"],
        presence_penalty=0.5,
        system_prompt="Be brief.",
    )

    await collect(target_for(fake_upstream, "openai"), request, into=[])

    body = fake_upstream.requests[0].body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["messages"][1] == {"role": "user", "content": "Hello there"}
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (1.5, 0.9, 256)
    assert (body["stop"], body["presence_penalty"]) == (["END"], 0.5)


async def test_openais_own_api_gets_max_completion_tokens(fake_upstream: FakeUpstream) -> None:
    target = target_for(fake_upstream, "openai", output_limit_param="max_completion_tokens")

    await collect(target, hello("gpt-4o", max_tokens=64), into=[])

    body = fake_upstream.requests[0].body
    assert body["max_completion_tokens"] == 64
    assert "max_tokens" not in body


async def test_the_conversation_goes_in_order(fake_upstream: FakeUpstream) -> None:
    turns = (
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello!"),
        ChatMessage("user", "And now?"),
    )

    await collect(target_for(fake_upstream, "openai"), ChatRequest("gpt-4o", turns), into=[])

    assert [m["content"] for m in fake_upstream.requests[0].body["messages"]] == [
        "Hi",
        "Hello!",
        "And now?",
    ]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(status=401), AuthError),
        (Fault(status=403), ForbiddenError),
        (Fault(status=404), ModelNotFoundError),
        (Fault(status=429, retry_after=3), RateLimitError),
        (Fault(status=400), BadRequestError),
        (Fault(status=500), UnavailableError),
        (Fault(status=503), UnavailableError),
    ],
)
async def test_each_status_raises_its_error_without_the_key(
    fake_upstream: FakeUpstream, fault: Fault, error: type[ProviderError]
) -> None:
    fault.echo_key = "exact"
    fake_upstream.faults.append(fault)

    with pytest.raises(error) as caught:
        await collect(target_for(fake_upstream, "openai"), hello("gpt-4o"), into=[])

    assert type(caught.value) is error
    assert caught.value.user_message in str(caught.value)
    assert "Scripted failure" in caught.value.description  # the upstream's words, masked
    assert KEY not in str(caught.value)
    assert KEY not in caught.value.description


async def test_a_cut_stream_keeps_what_arrived_and_raises(fake_upstream: FakeUpstream) -> None:
    fake_upstream.faults.append(Fault(cut_after_tokens=2))
    events: list[Event] = []

    with pytest.raises(UnavailableError, match="closed in the middle of the answer"):
        await collect(target_for(fake_upstream, "openai"), hello("gpt-4o"), into=events)

    assert events == [TextDelta("Hello"), TextDelta(",")]


async def test_a_malformed_chunk_is_a_malformed_response(fake_upstream: FakeUpstream) -> None:
    fake_upstream.faults.append(Fault(malformed_after_tokens=1))
    events: list[Event] = []

    with pytest.raises(MalformedResponseError):
        await collect(target_for(fake_upstream, "openai"), hello("gpt-4o"), into=events)

    assert events == [TextDelta("Hello")]


async def test_an_error_chunk_mid_stream_is_unavailable(fake_upstream: FakeUpstream) -> None:
    fake_upstream.faults.append(Fault(error_event_after_tokens=2))

    with pytest.raises(UnavailableError):
        await collect(target_for(fake_upstream, "openai"), hello("gpt-4o"), into=[])


async def test_a_stalled_stream_times_out(fake_upstream: FakeUpstream) -> None:
    stalled = Gate()  # never opened: the runner times out and hangs up first
    fake_upstream.faults.append(Fault(hold=stalled, hold_after_tokens=1))
    events: list[Event] = []
    target = target_for(fake_upstream, "openai", read_timeout=0.3)

    with pytest.raises(UpstreamTimeoutError):
        await collect(target, hello("gpt-4o"), into=events)

    assert events == [TextDelta("Hello")]


async def test_a_closed_port_is_unreachable() -> None:
    target = target_for(FakeUpstream(base_url="http://127.0.0.1:9/v1"), "openai")

    with pytest.raises(UnreachableError):
        await collect(target, hello("gpt-4o"), into=[])
