"""One Chromium serves the run (conftest `chromium`); tests do not see each other in it."""

from __future__ import annotations

import asyncio

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import SynchronousOnlyOperation
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.django_db


def test_a_test_without_a_page_keeps_djangos_async_check(
    chromium: tuple[Browser, asyncio.AbstractEventLoop],
) -> None:
    # With the browser started, this thread shows no running loop, so the ORM works
    # here and Django would still refuse it inside a coroutine.
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    assert User.objects.count() == 0

    async def from_a_coroutine() -> int:
        return User.objects.count()

    with pytest.raises(SynchronousOnlyOperation):
        asyncio.run(from_a_coroutine())


@pytest.mark.parametrize("turn", ["first", "second"])
def test_each_page_starts_without_what_the_last_one_left(page: Page, turn: str) -> None:
    page.context.add_cookies([{"name": "left", "value": turn, "url": "http://127.0.0.1:9"}])
    page.goto("data:text/html,<p>blank</p>")
    assert [cookie["value"] for cookie in page.context.cookies()] == [turn]
    assert len(page.context.browser.contexts) == 1
