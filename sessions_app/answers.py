"""Answers this process is streaming: each from a task of its own, read by its connections.

An answer's stream (streaming.relay) runs as a task, not inside the connection that reads
it. Send starts it as soon as the turn is saved, so the provider is already working while
the browser swaps the partial in and opens the stream; and a closed tab, a dropped
connection or a reload leaves it running to its end, saved as it ends, as people expect
from the peers. A connection to it in this process reads the task's events as they come,
from the first; one on another process follows the stored answer (streaming.follow).

Everything the processes share stays in the database: the claim (one task per answer,
wherever it runs), the text at each checkpoint, a Stop, the end. This registry only
spares the same process's readers the wait for the next checkpoint, and is empty again
once an answer ends.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from uuid import UUID

from django.conf import settings

from sessions_app import streaming
from sessions_app.models import Message

logger = logging.getLogger(__name__)


class Broadcast:
    """An answer's events as its task publishes them, for any number of readers.

    Every event is kept until the answer ends, so a reader that comes late (a reconnect,
    a second tab) starts from the first: the answer's size bounds it (ANSWER_MAX_CHARS).
    Of the `html` events only the newest is kept: each is the whole answer so far. The
    task never waits for a reader.
    """

    def __init__(self, *, owner_id: int, session_id: UUID) -> None:
        # Whose answer it is, so a reader here is checked without a trip to the database.
        self.owner_id, self.session_id = owner_id, session_id
        self.events: list[str] = []  # "" where an html event was overtaken
        self.ended = False
        self._changed = asyncio.Event()
        self._html: int | None = None  # where the newest html event is

    def is_of(self, user_id: int | None, session_id: UUID) -> bool:
        """Whether this is the answer in `session_id` of the person `user_id`, as the
        stream's lookup would find it (sessions_app.views)."""
        return user_id == self.owner_id and session_id == self.session_id

    def publish(self, event: str) -> None:
        if event.startswith(streaming.HTML_EVENT):
            if self._html is not None:
                self.events[self._html] = ""
            self._html = len(self.events)
        self.events.append(event)
        self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        # One Event per change: the readers waiting now wake, later ones wait afresh.
        self._changed.set()
        self._changed = asyncio.Event()

    async def read(self) -> AsyncIterator[str]:
        """Every event so far, then each as it comes, until the end; a keep-alive comment
        whenever nothing came for SSE_KEEPALIVE_SECONDS."""
        sent = 0
        while True:
            while sent < len(self.events):
                # All that came since the last read, as one write: a reader that fell
                # behind (a busy worker, a late tab) catches up in one send, not one per
                # token. An overtaken html event is "" and adds nothing.
                batch, sent = "".join(self.events[sent:]), len(self.events)
                yield batch
            if self.ended:
                return
            changed = self._changed
            try:
                async with asyncio.timeout(settings.SSE_KEEPALIVE_SECONDS):
                    await changed.wait()
            except TimeoutError:
                yield streaming.KEEPALIVE


# Answer (public id) → its broadcast, while its task runs in this process.
_running: dict[UUID, Broadcast] = {}
_tasks: set[asyncio.Task] = set()  # a task nothing refers to may be collected unfinished


def running(answer_id: UUID) -> Broadcast | None:
    return _running.get(answer_id)


def start(message: Message, claimed: streaming.Start | Exception) -> Broadcast:
    """Stream `message`, which this process has claimed (streaming.claim), in a task on
    the running loop."""
    session = message.session
    broadcast = Broadcast(owner_id=session.owner_id, session_id=session.public_id)
    _running[message.public_id] = broadcast
    # A context of its own, not the request's: the request ends long before the answer,
    # and its database thread with it.
    produce = _produce(message, claimed, broadcast)
    task = asyncio.get_running_loop().create_task(produce, context=contextvars.Context())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return broadcast


async def interrupt_all() -> None:
    """Cancel every answer still running here, and wait while each saves what it has,
    interrupted (streaming.relay): the server is stopping."""
    tasks = list(_tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def start_and_read(
    message: Message, claimed: streaming.Start | Exception
) -> AsyncIterator[str]:
    """Start the answer's task on the loop that reads it, and read it.

    Started here, at the first read, rather than in the view: a WSGI request (Django's
    test client) runs the view and the reading on two event loops, and a task lives only
    as long as its loop.
    """
    async with aclosing(start(message, claimed).read()) as events:
        async for event in events:
            yield event


async def _produce(message: Message, claimed: streaming.Start | Exception, into: Broadcast) -> None:
    # Its database trips (trips.database_trip) run on the process's one thread for
    # sync code outside a request, as every answer's here do, with its one connection:
    # a thread per answer, as a request gets, kept 200 threads contending for the GIL
    # and doubled the CPU an answer costs (bench/README.md).
    try:
        async with aclosing(streaming.relay(message, claimed)) as events:
            async for event in events:
                into.publish(event)
    except Exception:
        # relay() ends every failure as the answer's error; past that (its last save
        # failed) the answer is left for a follower to find silent and interrupted.
        logger.exception("Answer %s could not be saved", message.public_id)
    finally:
        into.end()
        del _running[message.public_id]
