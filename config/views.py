"""Views that belong to the site rather than to an app."""

from __future__ import annotations

import logging

import psycopg
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


# Under the Dockerfile's probe timeout (5 s), so a database down is a 503, not a timeout.
HEALTH_CHECK_SECONDS = 3


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the app can reach its database; 503, with no details, when it cannot."""
    try:
        _reach_database()
    except (DatabaseError, psycopg.Error):
        # The reason goes to the log: a probe's response may be public.
        logger.exception("Health check: the database is unreachable")
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def _reach_database() -> None:
    pool = getattr(connection, "pool", None)
    if pool is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return
    # PostgreSQL's pool: asked directly, with a deadline of our own. Through Django, a
    # request waits the pool's whole timeout for a connection that cannot be made.
    pool.open(wait=False)
    with pool.connection(timeout=HEALTH_CHECK_SECONDS) as pooled:
        pooled.execute("SELECT 1").fetchone()


@login_not_required
@require_GET
@cache_control(max_age=24 * 3600, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on pages without our <link> (the admin's)."""
    icon = (settings.BASE_DIR / "static" / "favicon.svg").read_bytes()
    return HttpResponse(icon, content_type="image/svg+xml")
