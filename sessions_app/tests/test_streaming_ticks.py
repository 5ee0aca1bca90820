"""The relay's clocked reading of the upstream (streaming._with_ticks), on its edges: an
upstream that misbehaves while it is closed, or that ends with a cancel nobody asked for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sessions_app.streaming import READ_AHEAD, TICK, _with_ticks

# A deadline, not a timing window: a hang fails the test instead of hanging the suite.
DEADLINE = 30


async def refuses_to_close() -> AsyncIterator[int]:
    """More events than are read ahead, then a failure of its own when cancelled."""
    for n in range(READ_AHEAD + 1):
        yield n
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        raise RuntimeError("cleanup failed") from None


def test_closing_while_the_queue_is_full_ends_even_if_the_upstream_fails_to_close() -> None:
    async def read_one_and_close() -> int:
        events = _with_ticks(refuses_to_close(), every=60)
        first = await anext(events)
        # The reader's turns: it puts the last event into the full queue's free place
        # and waits inside the upstream, the one place a close can meet it.
        for _ in range(5):
            await asyncio.sleep(0)
        await events.aclose()
        return first

    assert asyncio.run(asyncio.wait_for(read_one_and_close(), DEADLINE)) == 0


async def cancelled_by_itself() -> AsyncIterator[int]:
    yield 1
    raise asyncio.CancelledError  # a library's inner cancel leaking out


def test_a_cancel_the_upstream_raises_by_itself_ends_the_stream() -> None:
    async def read_all() -> list[object]:
        seen: list[object] = []
        async for event in _with_ticks(cancelled_by_itself(), every=0.01):
            seen.append(event)
            assert len(seen) < 10_000, "ticks without end"
        return seen

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(asyncio.wait_for(read_all(), DEADLINE))


def test_events_come_in_order_with_ticks_between_when_the_upstream_is_slow() -> None:
    async def slow() -> AsyncIterator[int]:
        for n in range(3):
            await asyncio.sleep(0.05)
            yield n

    async def read_all() -> list[object]:
        return [event async for event in _with_ticks(slow(), every=0.01)]

    seen = asyncio.run(asyncio.wait_for(read_all(), DEADLINE))
    assert [event for event in seen if event is not TICK] == [0, 1, 2]
    assert TICK in seen
