"""An answer's events as its readers in the same process get them (answers.Broadcast)."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from sessions_app.answers import Broadcast
from sessions_app.streaming import HTML, sse


def test_a_reader_gets_what_came_since_its_last_read_in_one_write_and_loses_nothing() -> None:
    async def read() -> list[str]:
        broadcast = Broadcast(owner_id=1, session_id=uuid4())
        for text in ("Hel", "lo"):
            broadcast.publish(sse("delta", text))
            broadcast.publish(sse(HTML, f"<p>{text}</p>"))
        reader = broadcast.read()
        writes = [await anext(reader)]
        # Published while the reader waits at its write, and then the end: both still come.
        broadcast.publish(sse("delta", "!"))
        broadcast.end()
        return writes + [write async for write in reader]

    writes = asyncio.run(asyncio.wait_for(read(), 10))

    # The overtaken html event is not sent: the newer one holds all its text.
    assert writes == [
        sse("delta", "Hel") + sse("delta", "lo") + sse(HTML, "<p>lo</p>"),
        sse("delta", "!"),
    ]


def test_a_broadcast_is_read_by_its_owner_under_its_chat_only() -> None:
    chat = uuid4()
    broadcast = Broadcast(owner_id=7, session_id=chat)

    assert broadcast.is_of(7, chat)
    assert not broadcast.is_of(8, chat)
    assert not broadcast.is_of(7, uuid4())
    assert not broadcast.is_of(None, chat)  # nobody signed in
