"""The Settings and Models pages in Chromium against the served app, under the policy.

The `page` fixture fails a test on any Content-Security-Policy violation.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from accounts.tests.browser import log_in
from providers.tests.factories import make_model, make_provider

pytestmark = pytest.mark.django_db(transaction=True)


def test_settings_save_a_default_model_and_a_personal_key(
    user: User, asgi_server: str, page: Page
) -> None:
    make_model(make_provider(), model_id="gpt-4o", display_name="GPT-4o")
    log_in(page, asgi_server, "alice", "/accounts/settings/")

    page.get_by_role("combobox", name="Default model").select_option(label="GPT-4o")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Default model saved.")

    page.get_by_label("Your key for OpenAI").fill("sk-proj-FAKE.alice.own.key.0000")
    page.get_by_role("button", name="Save key").click()
    expect(page.get_by_role("status")).to_contain_text("Your key for OpenAI is saved.")
    expect(page.get_by_text("Your key: sk-…000")).to_be_visible()

    page.get_by_role("link", name="Models").click()
    expect(page.get_by_role("heading", name="OpenAI")).to_be_visible()
