"""The threads a worker runs its requests' sync code on: a few, kept while it lives.

Django's ASGI handler gives each request a thread of its own (a ThreadSensitiveContext
with a new one-thread executor), started for the request and joined after it. Each
request so paid a thread's start and join and, connections being per thread, a new
database connection: on SQLite a file opened with its PRAGMAs and SQL functions, the
first query of every request (bench/README.md). Here a request is given one of
REQUEST_THREADS threads that live as long as the worker (the one with the fewest requests
in flight), and its connection outlives the request: CONN_MAX_AGE on SQLite, the pool's
on PostgreSQL.

Requests that share a thread take turns on it, one sync call at a time, as every answer's
database trips do on asgiref's one shared thread (sessions_app/answers.py). No
transaction spans an await (ATOMIC_REQUESTS is off and every atomic block sits inside one
sync call), so a turn leaves nothing open for the next one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from asgiref.sync import ThreadSensitiveContext


class RequestThreads:
    def __init__(self, count: int) -> None:
        self._executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{i}")
            for i in range(count)
        ]
        self._in_flight = [0] * count  # this worker's own bookkeeping: nothing to share

    @asynccontextmanager
    async def one(self) -> AsyncIterator[None]:
        """The sync code of the request made in this block runs on one of the threads."""
        index = min(range(len(self._in_flight)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1
        try:
            async with ThreadSensitiveContext(executor=self._executors[index]):
                yield
        finally:
            self._in_flight[index] -= 1
