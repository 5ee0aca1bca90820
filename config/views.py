"""Views that belong to the site rather than to an app."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET

from config.database import reach_database

logger = logging.getLogger(__name__)


# Under the Dockerfile's probe timeout (5 s), so a database down is a 503, not a timeout.
HEALTH_CHECK_SECONDS = 3


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the app can reach its database; 503, with no details, when it cannot."""
    try:
        reach_database(HEALTH_CHECK_SECONDS)
    except DatabaseError:
        # The reason goes to the log: a probe's response may be public.
        logger.exception("Health check: the database is unreachable")
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@login_not_required
@require_GET
@cache_control(max_age=24 * 3600, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on pages without our <link> (the admin's)."""
    icon = (settings.BASE_DIR / "static" / "favicon.svg").read_bytes()
    return HttpResponse(icon, content_type="image/svg+xml")
