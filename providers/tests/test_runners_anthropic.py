from __future__ import annotations

import pytest

from fakes.upstream import FakeUpstream, Fault, Gate
from providers.runners.base import (
    AuthError,
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
    UpstreamTimeoutError,
    Usage,
)
from providers.tests.runner_support import KEY, collect, hello, target_for

pytestmark = pytest.mark.anyio

MODEL = "claude-sonnet-5-5"


@pytest.fixture
def upstream(fake_upstream: FakeUpstream) -> FakeUpstream:
    fake_upstream.models = [MODEL]
    return fake_upstream


async def test_it_streams_deltas_then_usage_then_finish(upstream: FakeUpstream) -> None:
    upstream.cached_tokens = 5
    events: list[Event] = []

    await collect(target_for(upstream, "anthropic"), hello(MODEL), into=events)

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello", ",", " world", "!"]
    # The 5 cache reads come apart from the 3 input tokens on the wire; Usage counts them in.
    assert events[-2:] == [Usage(3 + 5, 4, 5), Finish("end_turn")]
    sent = upstream.requests[0]
    assert (sent.path, sent.protocol, sent.key) == ("/v1/messages", "anthropic", KEY)


async def test_an_answer_cut_at_max_tokens_finishes_at_the_output_limit(
    upstream: FakeUpstream,
) -> None:
    events: list[Event] = []

    await collect(target_for(upstream, "anthropic"), hello(MODEL, max_tokens=3), into=events)

    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello", ",", " world"]
    assert events[-2:] == [Usage(3, 3, 0), Finish("max_tokens", at_output_limit=True)]


async def test_max_tokens_is_always_sent_and_system_is_a_parameter(
    upstream: FakeUpstream,
) -> None:
    turns = (
        ChatMessage("system", "Answer in French."),
        ChatMessage("user", "Hi"),
    )
    request = ChatRequest(MODEL, turns, {"system_prompt": "Be brief."})

    await collect(target_for(upstream, "anthropic"), request, into=[])

    body = upstream.requests[0].body
    assert body["max_tokens"] == 4096
    assert body["system"] == "Be brief.\n\nAnswer in French."
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


async def test_model_settings_map_to_anthropic_names(upstream: FakeUpstream) -> None:
    request = hello(MODEL, max_tokens=300, stop=["END"], temperature=0.5, frequency_penalty=1)

    await collect(target_for(upstream, "anthropic"), request, into=[])

    body = upstream.requests[0].body
    assert (body["max_tokens"], body["stop_sequences"]) == (300, ["END"])
    # The current Messages API has no sampling parameters; sending one would be a 400.
    assert "temperature" not in body
    assert "frequency_penalty" not in body


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(status=401), AuthError),
        (Fault(status=403), ForbiddenError),
        (Fault(status=404), ModelNotFoundError),
        (Fault(status=429, retry_after=3), RateLimitError),
        (Fault(status=500), UnavailableError),
        (Fault(status=529), UnavailableError),
    ],
)
async def test_each_status_raises_its_error_without_the_key(
    upstream: FakeUpstream, fault: Fault, error: type[ProviderError]
) -> None:
    fault.echo_key = "exact"
    upstream.faults.append(fault)

    with pytest.raises(error) as caught:
        await collect(target_for(upstream, "anthropic"), hello(MODEL), into=[])

    assert type(caught.value) is error
    assert "Scripted failure" in caught.value.description  # the upstream's words, masked
    assert KEY not in caught.value.description


async def test_an_error_event_mid_stream_keeps_the_text_so_far(upstream: FakeUpstream) -> None:
    upstream.faults.append(Fault(error_event_after_tokens=2))
    events: list[Event] = []

    with pytest.raises(UnavailableError, match="Overloaded"):
        await collect(target_for(upstream, "anthropic"), hello(MODEL), into=events)

    assert events == [TextDelta("Hello"), TextDelta(",")]


async def test_a_cut_stream_raises_after_the_text_so_far(upstream: FakeUpstream) -> None:
    upstream.faults.append(Fault(cut_after_tokens=1))
    events: list[Event] = []

    with pytest.raises(UnavailableError):
        await collect(target_for(upstream, "anthropic"), hello(MODEL), into=events)

    assert events == [TextDelta("Hello")]


async def test_a_malformed_event_is_a_malformed_response(upstream: FakeUpstream) -> None:
    upstream.faults.append(Fault(malformed_after_tokens=1))

    with pytest.raises(MalformedResponseError):
        await collect(target_for(upstream, "anthropic"), hello(MODEL), into=[])


async def test_a_stalled_stream_times_out(upstream: FakeUpstream) -> None:
    stalled = Gate()  # never opened: the runner times out and hangs up first
    upstream.faults.append(Fault(hold=stalled, hold_after_tokens=1))

    with pytest.raises(UpstreamTimeoutError):
        await collect(target_for(upstream, "anthropic", read_timeout=0.3), hello(MODEL), into=[])
