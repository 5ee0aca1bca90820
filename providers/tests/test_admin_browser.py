"""The admin's preset prefill, in Chromium against the app served by uvicorn."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page: Page, url: str, next_path: str) -> None:
    page.goto(f"{url}/accounts/login/?next={next_path}")
    page.get_by_label("Username").fill("charlie")
    page.get_by_label("Password").fill("charlie-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}{next_path}")


def test_choosing_a_preset_fills_protocol_url_and_name(
    staff: User, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "/admin/providers/provider/add/")

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
    log_in(page, asgi_server, "/admin/providers/provider/add/")
    page.locator("#id_name").fill("Team gateway")
    page.locator("#id_base_url").fill("https://llm.internal.example.com/v1")

    page.select_option("#id_preset", "groq")

    expect(page.locator("#id_protocol")).to_have_value("openai")
    expect(page.locator("#id_base_url")).to_have_value("https://llm.internal.example.com/v1")
    expect(page.locator("#id_name")).to_have_value("Team gateway")


def test_the_key_input_is_a_password_field_that_starts_empty(
    staff: User, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "/admin/providers/provider/add/")

    key = page.get_by_label("API key")

    expect(key).to_have_attribute("type", "password")
    expect(key).to_have_value("")
