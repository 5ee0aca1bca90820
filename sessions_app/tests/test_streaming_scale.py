"""Many streams at once, on the served app: none fails, and none holds a database
connection while it waits on its provider (sessions_app/trips.py)."""

from __future__ import annotations

import asyncio

import httpx2
import pytest
from django.contrib.auth.models import User
from django.db import connection

from config.tests.uvicorn import database_url
from fakes.upstream import FakeUpstream, Fault, Gate
from providers.tests.factories import make_fake_provider, make_model
from sessions_app.models import ChatSession, Message
from sessions_app.tests import event_stream
from sessions_app.tests.test_streaming import Reader, stream_url

pytestmark = pytest.mark.django_db(transaction=True)

POOL_SIZE = 4


SERVED_NAME = "switchboard-served"


@pytest.fixture
def asgi_env(transactional_db: None) -> dict[str, str]:
    # Quiet: two hundred streams' INFO lines are not what these tests read.
    env = {"DB_POOL_SIZE": str(POOL_SIZE), "LOG_LEVEL": "WARNING"}
    if connection.vendor == "postgresql":
        # The served app's connections, told apart from this process's.
        env["DATABASE_URL"] = (
            f"{database_url(connection.settings_dict)}?application_name={SERVED_NAME}"
        )
    return env


def pending_answers(user: User, upstream: FakeUpstream, count: int) -> list[Message]:
    model = make_model(make_fake_provider(upstream), model_id="gpt-4o")
    return [
        ChatSession.objects.create(owner=user).start_turn(content=f"Question {n}", model=model)[1]
        for n in range(count)
    ]


async def read_all(urls: list[str], cookies: dict[str, str]) -> list[str | BaseException]:
    """Each stream's whole text, read at once by one client per stream's connection."""
    limits = httpx2.Limits(max_connections=len(urls), max_keepalive_connections=0)
    async with httpx2.AsyncClient(cookies=cookies, limits=limits, timeout=120) as client:

        async def read(url: str) -> str:
            response = await client.get(url)
            response.raise_for_status()
            return response.text

        return await asyncio.gather(*(read(url) for url in urls), return_exceptions=True)


def test_two_hundred_streams_at_once_all_finish(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    answers = pending_answers(user, fake_upstream, 200)

    texts = asyncio.run(read_all([stream_url(asgi_server, a) for a in answers], cookies))

    failures = [text for text in texts if isinstance(text, BaseException)]
    assert not failures, f"{len(failures)} of 200 streams failed, the first: {failures[0]!r}"
    for text in texts:
        events = event_stream.parse(text)
        assert [name for name, _ in events if name != "html"] == ["delta"] * 4 + ["done"]
        assert 'data-status="done"' in events[-1][1]
    statuses = set(Message.objects.filter(pk__in=[a.pk for a in answers]).values_list("status"))
    assert statuses == {("done",)}
    assert len(fake_upstream.requests) == 200


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has no server whose connections could run out",
)
def test_streams_waiting_on_their_provider_hold_no_database_connection(
    asgi_server: str, user: User, cookies: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    streams = 5 * POOL_SIZE
    answers = pending_answers(user, fake_upstream, streams)
    gate = Gate()
    fake_upstream.faults.extend(Fault(hold=gate, hold_after_tokens=1) for _ in answers)

    readers = [Reader(stream_url(asgi_server, answer), cookies) for answer in answers]
    # Were each waiting stream to hold a connection, the pool's few would be taken by the
    # first streams and the rest would wait for one instead of calling the provider.
    gate.wait_held(streams, timeout=60)
    with connection.cursor() as cursor:
        cursor.execute(
            # This test's database: a parallel worker's served app has its own.
            "SELECT pid, state, query FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            [SERVED_NAME],
        )
        server_connections = cursor.fetchall()
    assert len(server_connections) <= POOL_SIZE, server_connections
    gate.open()

    for reader in readers:
        assert [name for name, _ in reader.finish() if name != "html"] == ["delta"] * 4 + ["done"]
