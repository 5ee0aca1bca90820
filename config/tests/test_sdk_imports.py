"""A worker imports the SDKs its enabled providers speak at start, and another's when a
provider of it is first used: each SDK holds about 40 MB in every worker (bench/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from config.tests.fresh_process import python_output
from fakes.upstream import FakeUpstream
from providers.tests.factories import make_fake_provider, make_model
from sessions_app.models import ChatSession
from sessions_app.tests.test_streaming import ask, read_events

pytestmark = pytest.mark.django_db(transaction=True)

# A worker's start, as uvicorn runs it: the lifespan's startup, then which SDKs are loaded.
STARTUP = """
import asyncio, sys
from config.asgi import application

async def main():
    incoming, sent = asyncio.Queue(), asyncio.Queue()
    await incoming.put({"type": "lifespan.startup"})
    serving = asyncio.create_task(application({"type": "lifespan"}, incoming.get, sent.put))
    started = await sent.get()
    serving.cancel()
    print(started["type"], *[sdk for sdk in ("openai", "anthropic") if sdk in sys.modules])

asyncio.run(main())
"""


def start_a_worker(env: dict[str, str]) -> list[str]:
    return python_output(STARTUP, env).split()


def test_a_worker_starts_with_the_sdks_of_its_enabled_providers_only(
    served_env: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    make_fake_provider(fake_upstream)  # OpenAI's protocol
    make_fake_provider(fake_upstream, protocol="anthropic", name="Off", enabled=False)

    assert start_a_worker(served_env) == ["lifespan.startup.complete", "openai"]


def test_a_worker_on_a_database_not_migrated_yet_starts_with_every_sdk(
    served_env: dict[str, str], tmp_path: Path
) -> None:
    empty = served_env | {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}

    assert start_a_worker(empty) == ["lifespan.startup.complete", "openai", "anthropic"]


def test_a_provider_of_another_protocol_enabled_after_the_start_answers(
    asgi_server: str, client: Client, user: User, fake_upstream: FakeUpstream
) -> None:
    # The server started with no provider: it imported no SDK.
    fake_upstream.models = ["claude-sonnet-5-5"]
    provider = make_fake_provider(fake_upstream, protocol="anthropic")
    model = make_model(provider, model_id="claude-sonnet-5-5", display_name="Claude Sonnet")
    session = ChatSession.objects.create(owner=user)
    client.force_login(user)
    cookies = {"sessionid": client.cookies["sessionid"].value}

    events = read_events(asgi_server + ask(asgi_server, session, model, cookies), cookies)

    assert 'data-status="done"' in events[-1][1]
    assert "".join(data for name, data in events if name == "delta") == "Hello, world!"
    assert [r.protocol for r in fake_upstream.requests] == ["anthropic"]
