"""The Content-Security-Policy header on every response, without a thread hop under ASGI.

django-csp's CSPMiddleware is a MiddlewareMixin: under ASGI, Django runs its
process_request and process_response through sync_to_async, a hop to the sync thread
and back on every request, each chat stream included. That hop is why WhiteNoise gave
way to ServeStatic (bench/README.md). Both methods only build strings from settings: they
never block and never touch the database, so the async path calls them on the event loop.
The policy itself is CONTENT_SECURITY_POLICY in config/settings.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from csp.middleware import CSPMiddleware

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware; the sync path is its own, the async one skips the hop."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        self.process_request(request)  # always None: it only sets a lazy request.csp_nonce
        response = await self.get_response(request)
        return self.process_response(request, response)
