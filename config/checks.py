"""Django's deployment checks, made to count config.middleware's subclasses of its own.

`check --deploy` finds Django's security, CSRF and clickjacking middleware by their dotted
paths in MIDDLEWARE (django.core.checks.security), and ours are subclasses of them that
skip its thread hops (config/middleware.py). Found by path alone, they would be reported
missing (security.W001, W002, W003), and every check that depends on one would pass
without looking: HSTS, the https redirect, nosniff, the referrer and opener policies, the
CSRF cookie's Secure flag, X-Frame-Options DENY. Django's admin checks count subclasses
(ticket #30237); its security checks ask these three functions, which now do too.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.checks.security import base, csrf
from django.utils.module_loading import import_string

FOUND_BY_PATH = [
    (base, "_security_middleware", "django.middleware.security.SecurityMiddleware"),
    (base, "_xframe_middleware", "django.middleware.clickjacking.XFrameOptionsMiddleware"),
    (csrf, "_csrf_middleware", "django.middleware.csrf.CsrfViewMiddleware"),
]


def count_subclasses() -> None:
    # Should an upgrade rename them, Django's own lookups by path stay, and report the
    # three missing: loud, not silent (config/tests/test_settings.py).
    for module, function, path in FOUND_BY_PATH:
        setattr(module, function, _in_middleware(path))


def _in_middleware(path: str) -> Callable[[], bool]:
    def present() -> bool:
        wanted = import_string(path)
        found = (import_string(entry) for entry in settings.MIDDLEWARE)
        return any(isinstance(cls, type) and issubclass(cls, wanted) for cls in found)

    return present
