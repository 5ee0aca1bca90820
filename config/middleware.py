"""Django's middleware, and django-csp's, without thread hops under ASGI where none is needed.

Under ASGI a MiddlewareMixin runs process_request, process_view and process_response
through sync_to_async: a hop to the request's thread and back, each, on every request,
a chat stream's included. Under a burst of new streams every hop waits its turn on the
event loop, and a request crossed about a dozen of them before its view ran
(bench/README.md). The methods named here only read the request and build headers from
settings: they never block and never touch the database, so the async path calls them on
the event loop. The ones that may reach the database (a session saved, a user looked up,
messages stored in the session) keep their hop. The sync path is Django's own.

Django's security, CSRF and clickjacking middleware stay as they are, hops included:
`check --deploy` looks for them by their own dotted paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from asgiref.sync import sync_to_async
from csp.middleware import CSPMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.common import CommonMiddleware

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase


class _OnTheLoop:
    """process_request and process_response called on the event loop, but for those
    named in `in_thread`, which may touch the database."""

    in_thread: ClassVar[frozenset[str]] = frozenset()

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = await self._call("process_request", request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await self._call("process_response", request, response)
        return response

    async def _call(self, name: str, *args: Any) -> Any:
        method = getattr(self, name)
        if name in self.in_thread:
            return await sync_to_async(method, thread_sensitive=True)(*args)
        return method(*args)


class ContentSecurityPolicyMiddleware(_OnTheLoop, CSPMiddleware):
    """django-csp's; process_request only sets a lazy request.csp_nonce. The policy is
    CONTENT_SECURITY_POLICY in config/settings.py."""


class SessionStoreMiddleware(_OnTheLoop, SessionMiddleware):
    """The session is loaded lazily, on first use; saving it is a query."""

    in_thread = frozenset({"process_response"})


class CommonRequestMiddleware(_OnTheLoop, CommonMiddleware):
    pass


class UserMiddleware(_OnTheLoop, AuthenticationMiddleware):
    """Sets request.user lazily; the user is looked up on first use (in the thread)."""


class MessagesMiddleware(_OnTheLoop, MessageMiddleware):
    """Messages that do not fit their cookie are stored in the session."""

    in_thread = frozenset({"process_response"})
