"""The admin in Chromium against the app served by uvicorn: the preset prefill, and every
page we use working under the Content-Security-Policy (the `page` fixture fails a test on
any violation)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from accounts.tests.browser import log_in
from fakes.upstream import FakeUpstream
from providers.tests.factories import make_fake_provider, make_model

pytestmark = pytest.mark.django_db(transaction=True)


def test_choosing_a_preset_fills_protocol_url_and_name(
    staff: User, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "charlie", "/admin/providers/provider/add/")

    page.select_option("#id_preset", "anthropic")

    expect(page.locator("#id_protocol")).to_have_value("anthropic")
    expect(page.locator("#id_base_url")).to_have_value("https://api.anthropic.com")
    expect(page.locator("#id_name")).to_have_value("Anthropic")
    expect(page.locator("#id_allow_private_network")).not_to_be_checked()

    page.select_option("#id_preset", "ollama")

    expect(page.locator("#id_base_url")).to_have_value("http://localhost:11434/v1")
    expect(page.locator("#id_allow_private_network")).to_be_checked()


def test_a_url_someone_typed_is_kept_when_the_preset_changes(
    staff: User, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "charlie", "/admin/providers/provider/add/")
    page.locator("#id_name").fill("Team gateway")
    page.locator("#id_base_url").fill("https://llm.internal.example.com/v1")

    page.select_option("#id_preset", "groq")

    expect(page.locator("#id_protocol")).to_have_value("openai")
    expect(page.locator("#id_base_url")).to_have_value("https://llm.internal.example.com/v1")
    expect(page.locator("#id_name")).to_have_value("Team gateway")


def test_the_key_input_is_a_password_field_that_starts_empty(
    staff: User, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "charlie", "/admin/providers/provider/add/")

    key = page.get_by_label("API key")

    expect(key).to_have_attribute("type", "password")
    expect(key).to_have_value("")


def test_the_admin_pages_we_use_work_under_the_policy(
    staff: User, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    provider = make_fake_provider(fake_upstream)
    model = make_model(provider, model_id="gpt-4o", display_name="GPT-4o")
    log_in(page, asgi_server, "charlie", "/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()

    page.locator("tr.model-provider th a").click()  # the change list, with actions.js
    page.wait_for_url(f"{asgi_server}/admin/providers/provider/")  # loaded: actions.js is set up
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_have_text("1 of 1 selected")

    page.get_by_role("link", name="Import catalogue").click()
    page.get_by_label("Catalogue", exact=True).fill("providers: [{}]")
    page.get_by_role("button", name="Show the plan").click()
    expect(page.locator(".errornote")).to_contain_text("nothing was changed")

    page.goto(f"{asgi_server}/admin/providers/provider/{provider.pk}/change/")
    page.get_by_text("Advanced", exact=True).click()  # the collapsed fieldset opens
    expect(page.get_by_label("Settings")).to_be_visible()
    rows = page.locator("tr.form-row:not(.empty-form)")
    expect(rows).to_have_count(2)  # the model, and one blank row
    page.locator(".add-row a").click()  # inlines.js adds another
    expect(rows).to_have_count(3)
    page.get_by_role("button", name="Fetch models").click()  # the discovery page
    expect(page.locator(".discovery-new")).to_contain_text("gpt-4o-mini")
    page.get_by_role("button", name="Enable selected models").click()  # the new one ticked
    expect(page.locator(".messagelist")).to_contain_text("Enabled 1 model.")
    expect(page.locator(".breadcrumbs")).to_contain_text("Models")  # back on the provider's

    page.goto(f"{asgi_server}/admin/providers/provider/add/")
    page.select_option("#id_preset", "groq")
    expect(page.locator("#id_base_url")).to_have_value("https://api.groq.com/openai/v1")

    page.goto(f"{asgi_server}/admin/providers/llmmodel/{model.pk}/change/")
    expect(page.locator(".selector-chosen")).to_be_visible()  # SelectFilter2's widget

    page.goto(f"{asgi_server}/admin/providers/tier/add/")
    page.locator(".select2-selection").click()  # select2 asks the autocomplete view
    expect(page.locator(".select2-results")).to_contain_text("GPT-4o (Fake OpenAI)")


def test_a_providers_page_with_its_models_fits_a_laptop_screen(
    staff: User, asgi_server: str, page: Page, fake_upstream: FakeUpstream
) -> None:
    provider = make_fake_provider(fake_upstream)
    make_model(provider, model_id="gpt-4o", display_name="GPT-4o", gateway_name="gpt-4o")
    page.set_viewport_size({"width": 1280, "height": 800})

    log_in(page, asgi_server, "charlie", f"/admin/providers/provider/{provider.pk}/change/")

    expect(page.locator("tr.form-row:not(.empty-form)")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # nothing sideways
