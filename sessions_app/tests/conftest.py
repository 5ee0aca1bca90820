"""Fixtures the chat's tests share."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from fakes.upstream import FakeUpstream
from providers.models import LLMModel
from providers.tests.factories import make_fake_provider, make_model
from sessions_app.models import ChatSession


@pytest.fixture
def cookies(client: Client, user: User) -> dict[str, str]:
    """A signed-in session's cookie, for requests to the served app."""
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


@pytest.fixture
def model(fake_upstream: FakeUpstream) -> LLMModel:
    """GPT-4o on a provider of the fake upstream, everyone's default."""
    provider = make_fake_provider(fake_upstream)
    return make_model(provider, model_id="gpt-4o", display_name="GPT-4o", is_default=True)


@pytest.fixture
def session(user: User) -> ChatSession:
    return ChatSession.objects.create(owner=user)
