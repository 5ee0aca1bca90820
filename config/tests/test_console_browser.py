"""Every page, as a staff member uses them, leaves the browser's console clean: no error,
no warning, no uncaught exception (a 404 for an asset, a script that throws, htmx
complaining all show there first). The check itself is shown to catch one."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from playwright.sync_api import ConsoleMessage, Page, expect

from accounts.tests.browser import log_in
from fakes.upstream import FakeUpstream
from providers.models import LLMModel, Provider
from providers.tests.factories import make_fake_provider, make_model

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def console(page: Page) -> list[str]:
    """What the page's console said at the levels that mean something is wrong."""
    said: list[str] = []

    def heard(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            said.append(f"{message.type} at {message.location.get('url')}: {message.text}")

    page.on("console", heard)
    page.on("pageerror", lambda error: said.append(f"uncaught: {error}"))
    return said


@pytest.fixture
def catalogue(fake_upstream: FakeUpstream) -> LLMModel:
    fake_upstream.models = ["gpt-4o"]
    return make_model(make_fake_provider(fake_upstream), model_id="gpt-4o", display_name="GPT-4o")


def visit(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None
    assert response.ok, f"{url}: {response.status}"
    page.wait_for_load_state("networkidle")


def test_the_pages_say_nothing_wrong_in_the_console(
    staff: User,
    catalogue: LLMModel,
    asgi_server: str,
    page: Page,
    console: list[str],
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.reply = ["Some **code**:\n\n```python\nprint(1)\n```\n"]
    log_in(page, asgi_server, "charlie")
    page.get_by_label("Message").fill("Show me code")
    page.get_by_role("button", name="Send").click()
    answer = page.locator('article[data-role="assistant"]')
    expect(answer).to_have_attribute("data-status", "done")
    answer.get_by_role("button", name="Regenerate").click()
    expect(page.locator(".versions .position")).to_have_text("2 / 2")
    page.locator('article[data-role="user"]').get_by_role("link", name="Edit").click()
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("searchbox", name="Search chats").press_sequentially("code")
    expect(page.locator(".search-results a").first).to_be_visible()
    provider = Provider.objects.get()

    pages = [
        reverse("sessions_app:index"),
        reverse("providers:models"),
        reverse("usage:dashboard"),
        reverse("accounts:settings"),
        reverse("gateways:gateways"),
        reverse("gateways:model_names", args=[provider.pk]),
        reverse("admin:index"),
        reverse("admin:providers_provider_changelist"),
        reverse("admin:providers_provider_change", args=[provider.pk]),
        reverse("admin:providers_provider_verify", args=[provider.pk]),
        reverse("admin:providers_provider_fetch_models", args=[provider.pk]),
        reverse("admin:providers_llmmodel_changelist"),
        reverse("admin:providers_llmmodel_change", args=[catalogue.pk]),
        reverse("admin:providers_tier_changelist"),
        reverse("sessions_app:search") + "?q=code",
    ]
    for path in pages:
        visit(page, f"{asgi_server}{path}")
    page.get_by_role("button", name="Log out").click()
    visit(page, f"{asgi_server}{reverse('accounts:login')}")

    assert console == []


def test_the_check_hears_a_warning(asgi_server: str, page: Page, console: list[str]) -> None:
    visit(page, f"{asgi_server}{reverse('accounts:login')}")

    page.evaluate("console.warn('something is off')")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve))")

    assert [line.split(": ", 1)[1] for line in console] == ["something is off"]
