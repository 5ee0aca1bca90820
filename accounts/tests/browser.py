"""Signing in through the login page, as a person does, for the browser tests."""

from __future__ import annotations

from playwright.sync_api import Page

# The conftest's users: their passwords are their names and "-password-1".
PASSWORDS = {name: f"{name}-password-1" for name in ("alice", "bob", "charlie")}


def log_in(page: Page, url: str, username: str, next_path: str = "/") -> None:
    page.goto(f"{url}/accounts/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}{next_path}")
