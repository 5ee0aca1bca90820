"""The session's and the messages' middleware on Django's async path: each goes to a
thread only when its response hook will reach the database (config/middleware.py), and
what it must save is saved."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.contrib import messages
from django.contrib.auth.models import User
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, RequestFactory

from config.middleware import MessagesMiddleware, SessionStoreMiddleware
from config.tests.long_message_urls import LONG_MESSAGE

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
