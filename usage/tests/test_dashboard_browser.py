"""The dashboard in Chromium against the app served by uvicorn: its charts and tables,
a filter that changes them and the address bar, the CSV download, and no
Content-Security-Policy violation (the `page` fixture fails a test on any)."""

from __future__ import annotations

import csv
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.tests.browser import log_in
from usage.tests.records import record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def records(staff: User) -> None:
    today = timezone.now()
    for days_ago, model, provider in [(1, "gpt-4o", "OpenAI"), (0, "claude-sonnet", "Anthropic")]:
        record(today - timedelta(days=days_ago), "charlie", model, "0.30", provider_name=provider)


def test_the_charts_and_tables_show_and_a_filter_changes_them(
    records: None, asgi_server: str, page: Page, tmp_path: Path
) -> None:
    log_in(page, asgi_server, "charlie", "/usage/")
    tokens = page.get_by_role("table", name="Tokens per day by model")

    expect(page.locator("svg.pygal-chart")).to_have_count(5)
    expect(page.locator("svg.pygal-chart").first).to_be_visible()
    expect(
        page.get_by_role("img", name="Stacked bars of the tokens per day by model")
    ).to_be_visible()
    expect(tokens.get_by_role("columnheader")).to_have_text(
        ["Day", "Anthropic/claude-sonnet", "OpenAI/gpt-4o", "All"]
    )

    page.evaluate(
        "() => { window.swaps = 0;"
        " document.body.addEventListener('htmx:afterSwap', () => { window.swaps += 1; }); }"
    )
    page.get_by_label("Provider", exact=True).fill("OpenAI")
    page.get_by_label("Provider", exact=True).press("Enter")

    expect(tokens.get_by_role("columnheader")).to_have_text(["Day", "OpenAI/gpt-4o", "All"])
    expect(page).to_have_url(re.compile(r"/usage/\?.*provider=OpenAI"))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the records (CSV)").click()
    saved = tmp_path / "records.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(saved.open()))
    assert [(row["provider_name"], row["model_id"]) for row in rows] == [("OpenAI", "gpt-4o")]
    # Enter fired change and submit; only the newer request's results were swapped in.
    assert page.evaluate("() => window.swaps") == 1

    page.reload()  # the URL is the view
    expect(page.get_by_label("Provider", exact=True)).to_have_value("OpenAI")
    expect(tokens.get_by_role("columnheader")).to_have_text(["Day", "OpenAI/gpt-4o", "All"])
