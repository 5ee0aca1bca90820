"""Django's middleware, and django-csp's, without thread hops under ASGI where none is needed.

Under ASGI a MiddlewareMixin runs process_request, process_view and process_response
through sync_to_async: a hop to the request's thread and back, each, on every request,
a chat stream's included. Under a burst of new streams every hop waits its turn on the
event loop, and a request crossed about a dozen of them before its view ran
(bench/README.md). The methods named here only read the request and build headers from
settings: they never block and never touch the database, so the async path calls them on
the event loop. The ones that may reach the database (a session saved, messages stored in
the session) take their hop only when they will: a chat stream or a Send, which save
neither, crosses two hops fewer. The sync path is Django's own.

Django's security, CSRF and clickjacking middleware stay as they are, hops included:
`check --deploy` looks for them by their own dotted paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.common import CommonMiddleware

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase


class _OnTheLoop:
    """process_request and process_response called on the event loop, but where
    `in_thread` says the call may touch the database."""

    def in_thread(self, name: str, request: HttpRequest) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = await self._call("process_request", request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await self._call("process_response", request, response)
        return response

    async def _call(self, name: str, request: HttpRequest, *args: Any) -> Any:
        method = getattr(self, name)
        if self.in_thread(name, request):
            return await sync_to_async(method, thread_sensitive=True)(request, *args)
        return method(request, *args)


class ContentSecurityPolicyMiddleware(_OnTheLoop, CSPMiddleware):
    """django-csp's; process_request only sets a lazy request.csp_nonce. The policy is
    CONTENT_SECURITY_POLICY in config/settings.py."""


class SessionStoreMiddleware(_OnTheLoop, SessionMiddleware):
    """The session is loaded lazily, on first use; process_response saves it (a query)
    when it changed, or on every request if SESSION_SAVE_EVERY_REQUEST says so, and else
    only reads flags and sets headers."""

    def in_thread(self, name: str, request: HttpRequest) -> bool:
        session = getattr(request, "session", None)
        changed = session is not None and session.modified
        return name == "process_response" and (changed or settings.SESSION_SAVE_EVERY_REQUEST)


class CommonRequestMiddleware(_OnTheLoop, CommonMiddleware):
    pass


class UserMiddleware(_OnTheLoop, AuthenticationMiddleware):
    """Sets request.user lazily; the user is looked up on first use (in the thread)."""


class MessagesMiddleware(_OnTheLoop, MessageMiddleware):
    """process_response stores the messages when some were read or added; those that do
    not fit their cookie go to the session, which may be loaded for it (a query).
    Otherwise it does nothing."""

    def in_thread(self, name: str, request: HttpRequest) -> bool:
        storage = getattr(request, "_messages", None)
        touched = storage is not None and (storage.used or storage.added_new)
        return name == "process_response" and touched
