"""The ASGI entry point uvicorn serves: `uvicorn config.asgi:application`.

Django answers HTTP; the lifespan protocol, which Django does not speak, is answered here
so that a stopping server lets the answers still streaming in it save what they have
(sessions_app.answers) before the process exits.
"""

import os

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

# These need the app loaded.
from providers.runners.router import preload_runners  # noqa: E402
from sessions_app import answers  # noqa: E402

preload_runners()


async def application(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    else:
        await django_application(scope, receive, send)


async def lifespan(receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """Startup needs nothing; shutdown, which uvicorn sends once its connections are
    closed, interrupts the answers left running."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await answers.interrupt_all()
            await send({"type": "lifespan.shutdown.complete"})
            return
