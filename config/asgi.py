"""The ASGI entry point uvicorn serves: `uvicorn config.asgi:application`."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()

from providers.runners.router import preload_runners  # noqa: E402 - needs the app loaded

preload_runners()
