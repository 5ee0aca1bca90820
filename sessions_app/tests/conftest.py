"""Fixtures the chat's tests share."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client


@pytest.fixture
def cookies(client: Client, user: User) -> dict[str, str]:
    """A signed-in session's cookie, for requests to the served app."""
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}
