"""The `page` fixture's Content-Security-Policy check can fail: what the policy blocks is seen.

Each test injects, from Playwright (which the policy does not restrict), what an attacker's
markup would carry, on a page the app served; the browser refuses it and reports it.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.django_db(transaction=True)

INLINE_SCRIPT = """() => {
  const script = document.createElement("script");
  script.textContent = "document.body.dataset.injected = 'ran'";
  document.head.append(script);
}"""
INLINE_STYLE = """() => {
  document.body.insertAdjacentHTML("beforeend", '<p style="color: red">injected</p>');
}"""


@pytest.mark.parametrize(
    ("inject", "directive", "refusal"),
    [
        (INLINE_SCRIPT, "script-src-elem", "Executing inline script violates"),
        (INLINE_STYLE, "style-src-attr", "Applying inline style violates"),
    ],
)
def test_inline_code_is_blocked_and_recorded(
    asgi_server: str,
    page: Page,
    csp_violations: list[str],
    inject: str,
    directive: str,
    refusal: str,
) -> None:
    page.goto(f"{asgi_server}/accounts/login/")

    page.evaluate(inject)

    deadline = time.monotonic() + 10
    while len(csp_violations) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # Playwright handles the binding's calls while it waits
    event, console = sorted(csp_violations, key=lambda text: text.startswith("console:"))
    assert event.startswith(f"{directive} blocked inline at {asgi_server}/accounts/login/")
    assert console.startswith(f"console: {refusal} the following Content Security Policy")
    assert page.evaluate("document.body.dataset.injected") is None
    csp_violations.clear()  # expected here; left in, the fixture would fail this test
