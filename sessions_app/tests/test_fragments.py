"""A chat's finished messages are rendered once per worker and then served from the
"fragments" cache (templatetags/chat.py, conversation): what changes a message's HTML
(a new version beside it, the person's CSRF secret) renders it again."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from providers.models import LLMModel
from providers.tests.factories import make_model, make_provider
from sessions_app.models import ChatSession, Message, Status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    caches["fragments"].clear()


@pytest.fixture
def model() -> LLMModel:
    return make_model(make_provider(), model_id="gpt-4o")


@pytest.fixture
def alice(user: User) -> Client:
    """A browser as the page sees one: it holds its CSRF cookie, and checks are enforced."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.get(reverse("sessions_app:index"))  # the CSRF cookie
    return browser


def answered(session: ChatSession, model: LLMModel, question: str, answer: str) -> Message:
    reply = session.start_turn(content=question, model=model)[1]
    Message.objects.filter(pk=reply.pk).update(status=Status.DONE, content=answer)
    return reply


def page(browser: Client, session: ChatSession) -> str:
    return browser.get(session.get_absolute_url()).content.decode()


def test_a_finished_message_is_served_as_first_rendered(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    reply = answered(session, model, "Name a river", "The Tagus.")
    first = page(alice, session)
    # Not a change the app makes (a finished answer's text never changes): it shows
    # the page is not rendered from the database again.
    Message.objects.filter(pk=reply.pk).update(content_html="<p>Rewritten.</p>")

    again = page(alice, session)

    assert "The Tagus." in first
    assert "The Tagus." in again
    assert "Rewritten." not in again


def test_a_message_with_a_new_version_beside_it_is_rendered_again(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    answered(session, model, "Name a river", "The Tagus.")
    question = session.messages.get(content="Name a river")
    assert "1 / 2" not in page(alice, session)

    session.edit(question, content="Name a sea", model=model)
    session.show(question)

    html = page(alice, session)
    assert "Name a river" in html
    assert re.search(r'class="position"[^>]*>\s*1 / 2', html)


def test_a_cached_versions_form_carries_a_token_of_the_persons_current_csrf_secret(
    alice: Client, user: User, model: LLMModel
) -> None:
    session = ChatSession.objects.create(owner=user)
    answered(session, model, "Name a river", "The Tagus.")
    question = session.messages.get(content="Name a river")
    session.edit(question, content="Name a sea", model=model)
    page(alice, session)  # cached with the versions' form and its token

    del alice.cookies["csrftoken"]  # as after signing in again: a new CSRF secret
    alice.get(reverse("sessions_app:index"))
    versions = re.search(r'<form class="versions".*?</form>', page(alice, session), re.DOTALL)[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', versions)[1]
    action = re.search(r'formaction="([^"]+)"', versions)[1]

    response = alice.post(action, {"csrfmiddlewaretoken": token})  # the form, without JS

    assert response.status_code == 302
