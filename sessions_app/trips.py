"""A stream's trips to the database: each gives its connection back when it is done, and
the checkpoints of a worker's streams that fall due together go in one.

Given back (database_trip): on PostgreSQL to the worker's pool, so a stream waiting on its
provider holds no connection, and hundreds of streams share the pool's few.

Together (checkpoint): each of a worker's streams checkpoints twice a second, and at 200
streams that was 400 trips a second, each a hop to the database thread and a commit of
its own. A checkpoint that falls due while others are being saved waits for that trip to
end, and then goes with every other that came meanwhile, in one trip and one transaction:
a lone stream's checkpoint leaves at once, and under load each trip carries more.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection, transaction

from sessions_app.models import Message

Result = TypeVar("Result")


async def database_trip(work: Callable[..., Result], /, *args: Any, **kwargs: Any) -> Result:
    """`work` on the caller's database thread (a request's, or the one every answer task
    shares), its connection given back at the end."""
    return await sync_to_async(_and_give_back)(work, *args, **kwargs)


def _and_give_back(work: Callable[..., Result], /, *args: Any, **kwargs: Any) -> Result:
    try:
        return work(*args, **kwargs)
    finally:
        # As at a request's end: CONN_MAX_AGE is 0 with PostgreSQL's pool, so the
        # connection goes back to it; SQLite keeps its file open (CONN_MAX_AGE). Never
        # inside a transaction (a test's): closing would end it.
        if not connection.in_atomic_block:
            close_old_connections()


async def checkpoint(message: Message, new_text: str) -> bool:
    """Message.checkpoint, in a trip shared with the other checkpoints due at the same
    time in this process: True when the stream must end (a Stop came, or it lost the
    answer)."""
    loop = asyncio.get_running_loop()
    if (due := _due.get(loop)) is None:
        due = _due[loop] = _Checkpoints()
    return await due.save(message, new_text)


class _Checkpoints:
    """The checkpoints waiting for the next trip on one event loop, and the task making
    the trips while any wait."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Message, str, asyncio.Future[bool]]] = []
        self._saving: asyncio.Task | None = None

    async def save(self, message: Message, new_text: str) -> bool:
        saved = asyncio.get_running_loop().create_future()
        self._waiting.append((message, new_text, saved))
        if self._saving is None:
            # A context of its own: its trips run on the thread the answers' share
            # (sessions_app/answers.py), whichever stream came first.
            self._saving = asyncio.create_task(self._trips(), context=contextvars.Context())
        return await saved

    async def _trips(self) -> None:
        going: list[tuple[Message, str, asyncio.Future[bool]]] = []
        try:
            while self._waiting:
                going, self._waiting = self._waiting, []
                try:
                    ended = await database_trip(_save_all, [(m, text) for m, text, _ in going])
                except Exception as error:  # each stream handles it as its own trip's
                    for *_, saved in going:
                        if not saved.done():
                            saved.set_exception(error)
                else:
                    for (*_, saved), stop in zip(going, ended, strict=True):
                        if not saved.done():  # its stream may have been cancelled meanwhile
                            saved.set_result(stop)
        finally:
            self._saving = None
            for *_, saved in going + self._waiting:  # cancelled: no stream waits forever
                saved.cancel()


def _save_all(due: list[tuple[Message, str]]) -> list[bool]:
    with transaction.atomic():
        return [message.checkpoint(new_text) for message, new_text in due]


# Per event loop: a worker has one; a WSGI request (Django's test client) runs its own.
_due: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Checkpoints] = (
    weakref.WeakKeyDictionary()
)
