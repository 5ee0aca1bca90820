from __future__ import annotations

import pytest

from fakes.upstream import FakeUpstream, Fault
from providers.runners.base import AuthError, Event, TextDelta, UnavailableError
from providers.runners.router import runner_for, stream_reply
from providers.tests.runner_support import hello, target_for

pytestmark = pytest.mark.anyio


async def reply(target, request, into: list[Event]) -> None:
    async for event in stream_reply(target, request):
        into.append(event)


async def test_one_retry_before_the_first_token(fake_upstream: FakeUpstream) -> None:
    fake_upstream.faults.append(Fault(status=503))
    events: list[Event] = []

    await reply(target_for(fake_upstream, "openai"), hello("gpt-4o"), events)

    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello, world!"
    assert len(fake_upstream.requests) == 2


async def test_only_one_retry(fake_upstream: FakeUpstream) -> None:
    fake_upstream.faults += [Fault(status=500), Fault(status=502), Fault(status=500)]

    with pytest.raises(UnavailableError):
        await reply(target_for(fake_upstream, "openai"), hello("gpt-4o"), [])

    assert len(fake_upstream.requests) == 2


async def test_no_retry_after_a_token_was_relayed(fake_upstream: FakeUpstream) -> None:
    fake_upstream.faults.append(Fault(cut_after_tokens=1))
    events: list[Event] = []

    with pytest.raises(UnavailableError):
        await reply(target_for(fake_upstream, "openai"), hello("gpt-4o"), events)

    assert events == [TextDelta("Hello")]
    assert len(fake_upstream.requests) == 1


async def test_no_retry_for_a_bad_key(fake_upstream: FakeUpstream) -> None:
    fake_upstream.faults.append(Fault(status=401))

    with pytest.raises(AuthError):
        await reply(target_for(fake_upstream, "openai"), hello("gpt-4o"), [])

    assert len(fake_upstream.requests) == 1


async def test_one_runner_per_provider_rebuilt_when_it_changes(
    fake_upstream: FakeUpstream,
) -> None:
    target = target_for(fake_upstream, "openai")

    first = runner_for(target)
    again = runner_for(target_for(fake_upstream, "openai"))
    changed = runner_for(target_for(fake_upstream, "openai", api_key="sk-test-rotated-000000"))

    assert first is again
    assert changed is not first
