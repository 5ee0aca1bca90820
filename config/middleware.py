"""Django's middleware, and django-csp's, without thread hops under ASGI where none is needed.

Under ASGI a MiddlewareMixin runs process_request, process_view and process_response
through sync_to_async: a hop to the request's thread and back, each, on every request,
a chat stream's included. Under a burst of new streams every hop waits its turn on the
event loop, and a request crossed about a dozen of them before its view ran
(bench/README.md). The methods named here only read the request and build headers from
settings: they never block and never touch the database, so the async path calls them on
the event loop. The ones that may reach the database (a session saved, messages stored in
the session) or the disk (an upload parsed) take their hop only when they will: a chat
stream or a Send crosses one hop in the middleware, LoginRequiredMiddleware's, which
looks the user up. The sync path is Django's own.

`check --deploy` finds Django's security, CSRF and clickjacking middleware by their dotted
paths; config/checks.py has it count these subclasses of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest, HttpResponseBase


class _OnTheLoop:
    """process_request, process_view and process_response called on the event loop, but
    where `in_thread` says the call may block or touch the database."""

    def __init__(self, get_response: Callable) -> None:
        super().__init__(get_response)
        # Django's async handler awaits a process_view that is a coroutine function as it
        # is, and sends any other to a thread; under WSGI the method stays as it is.
        if iscoroutinefunction(self) and hasattr(self, "process_view"):
            check = self.process_view

            async def process_view(request: HttpRequest, *args: Any) -> HttpResponseBase | None:
                return await self._call(check, request, *args)

            self.process_view = process_view

    def in_thread(self, name: str, request: HttpRequest) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = await self._call(self.process_request, request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await self._call(self.process_response, request, response)
        return response

    async def _call(self, method: Callable, request: HttpRequest, *args: Any) -> Any:
        if self.in_thread(method.__name__, request):
            return await sync_to_async(method, thread_sensitive=True)(request, *args)
        return method(request, *args)


class SecurityHeadersMiddleware(_OnTheLoop, SecurityMiddleware):
    """Django's SecurityMiddleware: the redirect to https and the headers its settings
    ask for (HSTS, nosniff, the referrer and cross-origin opener policies)."""


class CsrfMiddleware(_OnTheLoop, CsrfViewMiddleware):
    """Django's CsrfViewMiddleware. Its token check reads the form when the token is not
    in a header: a form-encoded body is already in memory (Django's ASGI handler read it,
    and refuses one past DATA_UPLOAD_MAX_MEMORY_SIZE), but a multipart one's parsing may
    write its files to disk, so that check goes to a thread. With CSRF_USE_SESSIONS the
    secret is kept in the session, which may need a query: every call goes. A refusal's
    page is Django's, its template read from Django's package on the loop: a few
    kilobytes, on a path no page of ours takes."""

    def in_thread(self, name: str, request: HttpRequest) -> bool:
        multipart = request.content_type == "multipart/form-data"
        return settings.CSRF_USE_SESSIONS or (name == "process_view" and multipart)


class FrameOptionsMiddleware(_OnTheLoop, XFrameOptionsMiddleware):
    """Django's XFrameOptionsMiddleware: X-Frame-Options from X_FRAME_OPTIONS."""


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
