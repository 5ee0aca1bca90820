"""The Content-Security-Policy header: on every page, from sync and async views, served.

config/middleware.py sets it; the policy is CONTENT_SECURITY_POLICY in config/settings.py.
"""

from __future__ import annotations

import re
import threading
import urllib.request

import pytest
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from config.middleware import ContentSecurityPolicyMiddleware
from fakes.upstream import FakeUpstream
from providers.models import LLMModel
from providers.tests.factories import make_fake_provider, make_model
from sessions_app.models import ChatSession

POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# What the policy would refuse, in markup: so no page of ours may carry it.
INLINE_CODE = re.compile(r"<style|<script(?![^>]*\ssrc=)|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def directives(header: str) -> dict[str, list[str]]:
    """The policy as a mapping; django-csp writes the directives in no fixed order."""
    parts = (directive.split() for directive in header.split(";") if directive.strip())
    return {name: sources for name, *sources in parts}


def assert_strict_page(response: HttpResponse, *, title: str) -> None:
    """`title`: the page's own, so that an error page or a blank one fails the inline check."""
    header = response["Content-Security-Policy"]
    assert directives(header) == POLICY
    assert "'unsafe-" not in header  # no 'unsafe-inline', 'unsafe-eval', 'unsafe-hashes'
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert f"<title>{title}</title>" in html
    assert not INLINE_CODE.search(html)


@pytest.fixture
def model(fake_upstream: FakeUpstream) -> LLMModel:
    return make_model(make_fake_provider(fake_upstream), model_id="gpt-4o", display_name="GPT-4o")


def test_the_login_page_carries_the_policy(client: Client, db: None) -> None:
    response = client.get(reverse("accounts:login"))

    assert response.status_code == 200
    assert_strict_page(response, title="Log in · Switchboard")


PAGES = {
    "/": "Switchboard",
    "/accounts/settings/": "Settings · Switchboard",
    "/models/": "Models · Switchboard",
    "/accounts/password_change/": "Change your password · Switchboard",
    "/admin/": "Site administration | Switchboard",
    "/admin/providers/provider/": "Select provider to change | Switchboard",
    "/admin/providers/provider/add/": "Add provider | Switchboard",
    "/admin/providers/provider/import/": "Import a catalogue | Switchboard",
    "/admin/providers/llmmodel/": "Select model to change | Switchboard",
    "/admin/providers/tier/add/": "Add tier | Switchboard",
    "/admin/auth/user/": "Select user to change | Switchboard",
}


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "title"), PAGES.items(), ids=PAGES.keys())
def test_every_page_carries_the_policy_and_no_inline_code(
    staff_client: Client, url: str, title: str
) -> None:
    response = staff_client.get(url)

    assert response.status_code == 200
    assert_strict_page(response, title=title)


@pytest.mark.django_db
def test_pages_of_one_object_carry_the_policy_and_no_inline_code(
    staff_client: Client, staff: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=staff)
    session.start_turn(content="Say hello", model=model)  # the page holds a streaming answer
    pages = {
        session.get_absolute_url(): "Say hello · Switchboard",
        reverse("admin:providers_provider_change", args=[model.provider.pk]): (
            "Fake OpenAI | Change provider | Switchboard"
        ),
        reverse("admin:providers_llmmodel_change", args=[model.pk]): (
            "GPT-4o (Fake OpenAI) | Change model | Switchboard"
        ),
    }

    for url, title in pages.items():
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert_strict_page(response, title=title)
    discovery = staff_client.post(
        reverse("admin:providers_provider_fetch_models", args=[model.provider.pk])
    )
    assert "Fetched models" in discovery.content.decode()
    assert_strict_page(discovery, title="Fetched models | Switchboard")


def test_no_admin_turns_off_both_action_bars() -> None:
    # Django's change_list.html would then write an inline <style>, which the policy blocks.
    admins = {
        type(model_admin).__name__: model_admin for model_admin in admin.site._registry.values()
    }
    without = [
        name
        for name, model_admin in admins.items()
        if not (model_admin.actions_on_top or model_admin.actions_on_bottom)
    ]

    assert {"ProviderAdmin", "LLMModelAdmin", "TierAdmin"} <= admins.keys()
    assert without == []


def test_the_sync_path_sets_the_header() -> None:
    middleware = ContentSecurityPolicyMiddleware(lambda request: HttpResponse())

    response = middleware(RequestFactory().get("/"))

    assert directives(response["Content-Security-Policy"]) == POLICY


class HeaderThreads(HttpResponse):
    """A response that notes which thread set each header."""

    def __init__(self) -> None:
        super().__init__("ok")
        self.threads: dict[str, int] = {}

    def __setitem__(self, header: str, value: str) -> None:
        self.threads[header] = threading.get_ident()
        super().__setitem__(header, value)


async def respond(request: HttpRequest) -> HeaderThreads:
    return HeaderThreads()


@pytest.mark.anyio
async def test_the_async_path_sets_the_header_on_the_event_loop() -> None:
    response = await ContentSecurityPolicyMiddleware(respond)(RequestFactory().get("/"))

    assert directives(response["Content-Security-Policy"]) == POLICY
    assert response.threads["Content-Security-Policy"] == threading.get_ident()


@pytest.mark.anyio
async def test_django_csps_own_middleware_would_hop_to_another_thread() -> None:
    # Why config/middleware.py exists, and proof the test above can tell the difference.
    response = await CSPMiddleware(respond)(RequestFactory().get("/"))

    assert directives(response["Content-Security-Policy"]) == POLICY
    assert response.threads["Content-Security-Policy"] != threading.get_ident()


def fetch(url: str, cookie: str = "") -> tuple[str, str, bytes]:
    request = urllib.request.Request(url, headers={"Cookie": cookie})  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
        headers = response.headers
        return headers["Content-Type"], headers["Content-Security-Policy"], response.read()


def test_the_served_app_sends_the_policy_from_sync_and_async_views(
    asgi_server: str, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    _, reply = session.start_turn(content="Say hello", model=model)
    browser = Client()
    browser.force_login(user)  # the session row is committed: the server reads it
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    stream_url = reverse("sessions_app:stream", args=[session.public_id, reply.public_id])

    login_type, login_policy, _ = fetch(f"{asgi_server}{reverse('accounts:login')}")  # a sync view
    stream_type, stream_policy, events = fetch(f"{asgi_server}{stream_url}", cookie)  # async

    assert login_type.startswith("text/html")
    assert directives(login_policy) == POLICY
    assert stream_type == "text/event-stream"
    assert b"event: done" in events
    assert directives(stream_policy) == POLICY
