"""The personal settings page: a default model, and bringing one's own key."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import PersonalSettings
from providers import access
from providers.models import LLMModel, PersonalKey, Provider, Tier
from providers.tests.factories import OPENAI_KEY, make_catalogue, make_model, make_provider

pytestmark = pytest.mark.django_db

MY_KEY = "sk-proj-FAKE.alice.own.key.0000"


@pytest.fixture
def openai() -> Provider:
    return make_provider()


@pytest.fixture
def alice(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_a_personal_key_is_stored_encrypted_and_shown_masked(
    alice: Client, user: User, openai: Provider
) -> None:
    response = alice.post(
        reverse("accounts:save_key", args=[openai.pk]), {"api_key": MY_KEY}, follow=True
    )

    html = response.content.decode()
    assert "Your key for OpenAI is saved." in html
    assert "sk-…000" in html  # MY_KEY's ends
    assert MY_KEY.encode() not in response.content
    assert OPENAI_KEY.encode() not in response.content
    assert PersonalKey.objects.get(user=user).api_key.reveal() == MY_KEY


def test_a_bad_personal_key_is_refused_without_echoing_it(alice: Client, openai: Provider) -> None:
    bad = "sk-proj-with a space-0123456789"

    response = alice.post(
        reverse("accounts:save_key", args=[openai.pk]), {"api_key": bad}, follow=True
    )

    assert "An API key has no spaces or line breaks inside it." in response.content.decode()
    assert bad.encode() not in response.content
    assert not PersonalKey.objects.exists()


def test_a_personal_key_can_be_removed(alice: Client, user: User, openai: Provider) -> None:
    PersonalKey.objects.create(user=user, provider=openai, api_key=MY_KEY)

    response = alice.post(reverse("accounts:remove_key", args=[openai.pk]), follow=True)

    html = response.content.decode()
    assert "Your key is removed; the team&#x27;s key is used again." in html
    assert f'<label for="key-{openai.pk}">Your key for OpenAI</label>' in html
    assert not PersonalKey.objects.exists()


def test_a_provider_with_personal_keys_off_is_not_offered(alice: Client, openai: Provider) -> None:
    Provider.objects.filter(pk=openai.pk).update(allow_personal_keys=False)

    page = alice.get(reverse("accounts:settings")).content.decode()
    refused = alice.post(reverse("accounts:save_key", args=[openai.pk]), {"api_key": MY_KEY})

    assert "No provider accepts personal keys right now." in page
    assert refused.status_code == 404
    assert not PersonalKey.objects.exists()


def test_one_users_key_is_not_another_users(
    client: Client, user: User, other_user: User, openai: Provider
) -> None:
    PersonalKey.objects.create(user=user, provider=openai, api_key=MY_KEY)
    client.force_login(other_user)

    page = client.get(reverse("accounts:settings")).content.decode()
    removal = client.post(reverse("accounts:remove_key", args=[openai.pk]), follow=True)

    assert f'<label for="key-{openai.pk}">Your key for OpenAI</label>' in page
    assert "Your key:" not in page
    assert "You have no key of your own for this provider to remove." in (removal.content.decode())
    assert PersonalKey.objects.get().user == user


def test_the_default_model_is_saved_and_preselected(
    alice: Client, user: User, openai: Provider
) -> None:
    make_model(openai, model_id="gpt-4o", is_default=True)
    mine = make_model(openai, model_id="gpt-4o-mini", display_name="Mini")

    alice.post(reverse("accounts:save_default_model"), {"model": mine.pk})

    assert PersonalSettings.objects.get(user=user).default_model == mine
    assert access.default_model(User.objects.get(pk=user.pk)) == mine
    chat = alice.get(reverse("sessions_app:index")).content.decode()
    assert f'<option value="{mine.pk}" selected>Mini</option>' in chat


def test_a_default_model_closed_to_the_tier_is_refused(
    alice: Client, user: User, openai: Provider
) -> None:
    closed = make_model(openai, model_id="gpt-4o", display_name="GPT-4o")
    Tier.objects.create(name="Interns", is_default=True)
    closed.allowed_tiers.add(Tier.objects.create(name="Research"))

    response = alice.post(reverse("accounts:save_default_model"), {"model": closed.pk}, follow=True)

    assert "GPT-4o is not available to your tier (Interns)." in response.content.decode()
    assert not PersonalSettings.objects.exists()


def test_with_a_big_catalogue_the_default_model_is_found_by_search(
    alice: Client, user: User
) -> None:
    make_catalogue(providers=2, models=100)
    mine = LLMModel.objects.get(model_id="model-01-042")
    PersonalSettings.objects.create(user=user, default_model=mine)

    page = alice.get(reverse("accounts:settings")).content.decode()
    search = alice.get(reverse("providers:model_search"), {"q": "00-01", "automatic": 1})

    assert page.count("<option") == 2
    assert '<option value="">Automatic (your tier\'s default)</option>' in page
    assert f'<option value="{mine.pk}" selected>Model 01-042</option>' in page
    assert f'hx-get="{reverse("providers:model_search")}?keep={mine.pk}&amp;automatic=1"' in page
    assert '<option value="" selected>Automatic' in search.content.decode()
