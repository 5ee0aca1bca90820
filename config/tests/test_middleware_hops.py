"""config/middleware.py's subclasses of Django's middleware on its async path: each goes to
a thread only when its call may block or reach the database; what the session and the
messages must save is saved, and the CSRF check and the security headers are Django's."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.contrib import messages
from django.contrib.auth.models import User
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, RequestFactory, override_settings

from config.middleware import CsrfMiddleware, MessagesMiddleware, SessionStoreMiddleware
from config.tests.long_message_urls import LONG_MESSAGE
from sessions_app.models import ChatSession

pytestmark = pytest.mark.django_db(transaction=True)


def _request() -> HttpRequest:
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_a_response_hook_goes_to_a_thread_only_when_it_saves() -> None:
    sessions = SessionStoreMiddleware(lambda request: HttpResponse())
    notes = MessagesMiddleware(lambda request: HttpResponse())
    untouched, changed = _request(), _request()
    changed.session["seen"] = True
    messages.info(changed, "Saved.")

    assert not sessions.in_thread("process_response", untouched)
    assert not notes.in_thread("process_response", untouched)
    assert sessions.in_thread("process_response", changed)
    assert notes.in_thread("process_response", changed)
    assert not sessions.in_thread("process_request", changed)


def test_signing_in_on_the_async_path_saves_the_session(user: User) -> None:
    async def sign_in() -> tuple[int, int]:
        client = AsyncClient()
        await client.get("/accounts/login/")
        form = {"username": user.username, "password": "alice-password-1"}
        signed_in = await client.post("/accounts/login/", form)
        return signed_in.status_code, (await client.get("/")).status_code

    assert async_to_sync(sign_in)() == (302, 200)


@pytest.mark.urls("config.tests.long_message_urls")
def test_a_message_too_long_for_its_cookie_is_kept_in_the_session() -> None:
    async def leave_and_read(client: AsyncClient) -> str:
        left = await client.get("/test/long-message/")
        assert left.status_code == 302
        return (await client.get(left["Location"])).content.decode()

    async def twice() -> list[str]:
        # The first creates the session, the second stores into the one that exists.
        client = AsyncClient()
        return [await leave_and_read(client), await leave_and_read(client)]

    for page in async_to_sync(twice)():
        assert LONG_MESSAGE.strip() in page


async def _async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


def test_the_csrf_check_parses_an_upload_in_a_thread_and_a_form_on_the_loop() -> None:
    on_asgi, on_wsgi = CsrfMiddleware(_async_view), CsrfMiddleware(lambda request: None)
    form = RequestFactory().post("/", "content=Hi", "application/x-www-form-urlencoded")
    upload = RequestFactory().post("/", {"file": SimpleUploadedFile("tiers.yaml", b"tiers: []")})

    assert iscoroutinefunction(on_asgi.process_view)  # awaited as it is: no hop
    assert not iscoroutinefunction(on_wsgi.process_view)
    assert not on_asgi.in_thread("process_view", form)
    assert on_asgi.in_thread("process_view", upload)
    assert not on_asgi.in_thread("process_request", upload)
    with override_settings(CSRF_USE_SESSIONS=True):  # the secret is in the session
        assert on_asgi.in_thread("process_request", form)


def test_the_async_path_refuses_a_post_without_its_csrf_token(user: User) -> None:
    async def post_three_ways() -> list[int]:
        client = AsyncClient(enforce_csrf_checks=True)
        await client.aforce_login(user)
        await client.get("/")
        token = client.cookies["csrftoken"].value
        upload = SimpleUploadedFile("notes.txt", b"x" * 10_000)
        return [
            (await client.post("/chat/new/")).status_code,
            (await client.post("/chat/new/", {"csrfmiddlewaretoken": token})).status_code,
            (
                await client.post("/chat/new/", {"csrfmiddlewaretoken": token, "file": upload})
            ).status_code,
        ]

    assert async_to_sync(post_three_ways)() == [403, 302, 302]
    assert ChatSession.objects.filter(owner=user).count() == 2


def test_the_async_path_sends_the_security_headers(user: User) -> None:
    async def page() -> HttpResponse:
        client = AsyncClient()
        await client.aforce_login(user)
        return await client.get("/")

    response = async_to_sync(page)()

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
