"""Checkpoints of a worker's streams that fall due while a trip is out go together in the
next one (sessions_app/trips.py): each still gets its own answer, a failure reaches every
stream of its trip, and a stream cancelled while it waits holds up none of the others."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import DatabaseError, connection

from providers.tests.factories import make_fake_provider, make_model
from sessions_app import trips
from sessions_app.models import ChatSession, Message, Status

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True)]

DEADLINE = 30  # a hang fails the test instead of hanging the suite


@pytest.fixture
def answers(user: User, fake_upstream) -> list[Message]:
    model = make_model(make_fake_provider(fake_upstream), model_id="gpt-4o")
    session = ChatSession.objects.create(owner=user)
    replies = []
    for n in range(5):
        reply = session.start_turn(content=f"question {n}", model=model)[1]
        assert reply.claim()
        replies.append(reply)
    return replies


class HeldThread:
    """The database thread the answers share, kept busy until opened: trips queue behind."""

    def __init__(self) -> None:
        self._gate = threading.Event()

    async def __aenter__(self) -> HeldThread:
        self._holding = asyncio.ensure_future(sync_to_async(self._gate.wait)())
        return self

    async def __aexit__(self, *_: object) -> None:
        self._gate.set()
        await self._holding

    def open(self) -> None:
        self._gate.set()


async def checkpoints(due: list[tuple[Message, str]]) -> AsyncIterator[asyncio.Task]:
    for message, text in due:
        yield asyncio.create_task(trips.checkpoint(message, text))
        await asyncio.sleep(0)  # its turn: it joins the trip under way or waits for the next


async def test_checkpoints_due_together_are_each_saved_with_their_own_answer(
    answers: list[Message],
) -> None:
    stopped, lost = answers[3], answers[4]
    await sync_to_async(stopped.request_stop)()
    await sync_to_async(Message.objects.filter(pk=lost.pk).update)(status=Status.ERROR)

    async with HeldThread() as held:
        saving = [t async for t in checkpoints([(m, f"text {i}") for i, m in enumerate(answers)])]
        held.open()
        ended = await asyncio.wait_for(asyncio.gather(*saving), DEADLINE)

    assert ended == [False, False, False, True, True]
    saved = await sync_to_async(list)(
        Message.objects.filter(role="assistant").order_by("pk").values_list("content")
    )
    assert [text for (text,) in saved if text] == ["text 0", "text 1", "text 2"]
    if connection.vendor == "postgresql":
        # The four that waited behind the first went in one transaction: one xmin.
        rows = await sync_to_async(_transactions)([m.pk for m in answers[:3]])
        assert rows[0] != rows[1] == rows[2]


def _transactions(pks: list[int]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xmin::text FROM sessions_app_message WHERE id = ANY(%s) ORDER BY id", [pks]
        )
        return [xmin for (xmin,) in cursor.fetchall()]


async def test_a_failed_trip_reaches_each_of_its_streams_and_the_next_trip_goes(
    answers: list[Message],
) -> None:
    first, second = answers[0], answers[1]
    # The database refusing the write, as a locked SQLite past its busy timeout would.
    await sync_to_async(_refuse_updates)(True)
    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                trips.checkpoint(first, "a"), trips.checkpoint(second, "b"), return_exceptions=True
            ),
            DEADLINE,
        )
    finally:
        await sync_to_async(_refuse_updates)(False)

    assert all(isinstance(result, DatabaseError) for result in results), results
    assert await asyncio.wait_for(trips.checkpoint(first, "again"), DEADLINE) is False
    await sync_to_async(first.refresh_from_db)()
    assert first.content == "again"


def _refuse_updates(refuse: bool) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            statement = (
                "CREATE TRIGGER refuse BEFORE UPDATE ON sessions_app_message "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                if refuse
                else "DROP TRIGGER refuse"
            )
            cursor.execute(statement)
        elif refuse:
            cursor.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = '55P03'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER refuse BEFORE UPDATE ON sessions_app_message "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        else:
            cursor.execute("DROP TRIGGER refuse ON sessions_app_message")
            cursor.execute("DROP FUNCTION refuse()")


async def test_a_stream_cancelled_while_it_waits_holds_up_none_of_the_others(
    answers: list[Message],
) -> None:
    async with HeldThread() as held:
        saving = [t async for t in checkpoints([(m, "x") for m in answers[:3]])]
        saving[1].cancel()  # its server stopping, say, while its checkpoint waits
        held.open()
        ended = await asyncio.wait_for(asyncio.gather(*saving, return_exceptions=True), DEADLINE)

    assert ended[0] is False
    assert ended[2] is False
    assert isinstance(ended[1], asyncio.CancelledError)
