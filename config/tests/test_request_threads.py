"""A worker's request threads: a request's sync code stays on one kept thread, requests
in flight together are spread over them, and a thread outlives its requests."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from config.request_threads import RequestThreads

pytestmark = pytest.mark.anyio


async def thread_of_request(threads: RequestThreads, inside: asyncio.Event | None = None) -> list:
    """The threads one request's sync calls ran on; with `inside`, held in flight until set."""
    async with threads.one():
        ran_on = [await sync_to_async(threading.current_thread)()]
        if inside is not None:
            await inside.wait()
        ran_on.append(await sync_to_async(threading.current_thread)())
    return ran_on


async def test_a_request_keeps_one_thread_and_the_next_request_reuses_it() -> None:
    threads = RequestThreads(2)

    first = await thread_of_request(threads)
    second = await thread_of_request(threads)

    assert first[0] is first[1] is second[0] is second[1]
    assert first[0] is not threading.current_thread()
    assert first[0].name.startswith("request-0")
    assert first[0].is_alive()


async def test_requests_in_flight_together_get_the_threads_with_the_fewest() -> None:
    threads = RequestThreads(2)
    release = asyncio.Event()
    held = [asyncio.create_task(thread_of_request(threads, release)) for _ in range(3)]
    await asyncio.sleep(0)  # each has entered its block and taken a thread

    release.set()
    ran_on = [calls[0] for calls in await asyncio.gather(*held)]

    names = sorted(thread.name.split("_")[0] for thread in ran_on)
    assert names == ["request-0", "request-0", "request-1"]
