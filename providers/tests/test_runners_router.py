from __future__ import annotations

import time
from contextlib import aclosing
from dataclasses import replace

import anyio
import pytest

from fakes.upstream import FakeUpstream
from providers.runners import router
from providers.runners.base import Event, TextDelta
from providers.runners.router import RUNNER_CACHE_SIZE, runner_for, stream_reply
from providers.tests.runner_support import KEY, hello, target_for

pytestmark = pytest.mark.anyio


async def reply(target, request, into: list[Event]) -> None:
    async for event in stream_reply(target, request):
        into.append(event)


async def test_one_runner_per_provider_rebuilt_when_it_changes(
    fake_upstream: FakeUpstream,
) -> None:
    target = target_for(fake_upstream, "openai")

    with runner_for(target) as first, runner_for(target_for(fake_upstream, "openai")) as again:
        assert first is again
    with runner_for(replace(target, api_key="sk-test-rotated-000000")) as changed:
        assert changed is not first


async def wait_for_connections(upstream: FakeUpstream, count: int) -> None:
    deadline = time.monotonic() + 10
    while upstream.open_connections != count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{upstream.open_connections} connections open, not {count}")
        await anyio.sleep(0.01)


async def test_a_replaced_runner_finishes_its_stream_then_closes_its_connections(
    fake_upstream: FakeUpstream,
) -> None:
    target = target_for(fake_upstream, "openai")
    events: list[Event] = []

    async with aclosing(stream_reply(target, hello("gpt-4o"))) as reading:
        events.append(await anext(reading))  # the answer has begun on the first runner
        # The provider's timeout changes while it streams: the next answer gets a runner
        # of its own, and its connection stays pooled after it.
        await reply(replace(target, read_timeout=30), hello("gpt-4o"), [])
        assert fake_upstream.open_connections == 2
        events += [event async for event in reading]

    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello, world!"
    await wait_for_connections(fake_upstream, 1)  # the replaced runner's, closed


async def test_runners_past_the_cache_size_are_closed(fake_upstream: FakeUpstream) -> None:
    await reply(target_for(fake_upstream, "openai", name="Oldest"), hello("gpt-4o"), [])
    assert fake_upstream.open_connections == 1  # pooled for the next answer

    for n in range(RUNNER_CACHE_SIZE):
        with runner_for(target_for(fake_upstream, "openai", name=f"Newer {n}")):
            pass

    await wait_for_connections(fake_upstream, 0)


async def test_the_cache_is_not_keyed_by_keys(fake_upstream: FakeUpstream) -> None:
    with runner_for(target_for(fake_upstream, "openai")):
        pass

    for value in vars(router).values():
        if isinstance(value, dict):
            assert not any(KEY in repr(slot) for slot in value)
