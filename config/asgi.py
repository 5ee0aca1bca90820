"""The ASGI entry point uvicorn serves: `uvicorn config.asgi:application`.

Django answers HTTP, its requests' sync code on a few threads kept for the worker's life
(config/request_threads.py) rather than a new one per request; the lifespan protocol,
which Django does not speak, is answered here so that a stopping server lets the answers
still streaming in it save what they have (sessions_app.answers) before the process exits.
"""

import logging
import os

import django
from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.db import DatabaseError

from config.database import reach_database
from config.memory import limit_arenas
from config.request_threads import RequestThreads

limit_arenas()  # before any thread of the worker allocates
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # as get_asgi_application() does

# These need the app loaded.
from providers.models import Provider  # noqa: E402
from providers.runners.router import RUNNERS, preload_runners  # noqa: E402
from sessions_app import answers, trips  # noqa: E402

logger = logging.getLogger(__name__)

# How long a starting worker waits for the database before it imports every SDK and
# serves: a database down must not keep the server from answering (its /healthz says 503).
STARTUP_DATABASE_SECONDS = 3


class _Handler(ASGIHandler):
    """Django's, each request's sync code on one of the worker's request threads."""

    threads = RequestThreads(settings.REQUEST_THREADS)

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        async with self.threads.one():
            await self.handle(scope, receive, send)


django_application = _Handler()


async def application(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    else:
        await django_application(scope, receive, send)


async def lifespan(receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """Startup imports the SDKs of the protocols that the enabled providers speak;
    shutdown, which uvicorn sends once its connections are closed, interrupts the answers
    left running."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            preload_runners(await trips.database_trip(_protocols_in_use))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await answers.interrupt_all()
            await send({"type": "lifespan.shutdown.complete"})
            return


def _protocols_in_use() -> set[str]:
    """The protocols of the enabled providers; all of them when the database cannot say
    (down, or not migrated yet): a worker then holds only the SDKs it serves
    (bench/README.md), and imports another's when a provider of it is enabled
    (providers.runners.router)."""
    try:
        reach_database(STARTUP_DATABASE_SECONDS)
        enabled = Provider.objects.filter(enabled=True).values_list("protocol", flat=True)
        return set(enabled.distinct()) & RUNNERS.keys()
    except DatabaseError:
        logger.warning("Startup: the database did not say which providers are enabled")
        return set(RUNNERS)
