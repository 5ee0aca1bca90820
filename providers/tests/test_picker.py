"""The model picker: what it offers a person, and what its search box finds for them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import PersonalSettings
from providers import picker
from providers.models import LLMModel
from providers.tests.factories import join, make_catalogue, make_model, make_provider, make_tier

pytestmark = pytest.mark.django_db


def labels(offer: picker.Offer) -> list[str]:
    return [model.label for _, models in offer.groups for model in models]


def model(model_id: str) -> LLMModel:
    return LLMModel.objects.get(model_id=model_id)


@pytest.fixture
def alice(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def search_page(client: Client, **params: object) -> str:
    return client.get(reverse("providers:model_search"), params).content.decode()


def test_a_short_catalogue_is_offered_whole_without_a_search_box(user: User) -> None:
    make_catalogue(providers=2, models=picker.INLINE_LIMIT // 2)

    offer = picker.offer(user, selected=None)

    assert len(labels(offer)) == picker.INLINE_LIMIT
    assert [name for name, _ in offer.groups] == ["Provider 00", "Provider 01"]
    assert not offer.searchable


def test_a_long_catalogue_offers_the_selected_the_defaults_and_what_to_keep(
    user: User,
) -> None:
    make_catalogue(providers=2, models=picker.INLINE_LIMIT)
    PersonalSettings.objects.create(user=user, default_model=model("model-01-002"))
    make_tier("Everyone", is_default=True, default_model=model("model-00-003"))
    asked = []

    def recent() -> list[int]:
        asked.append(True)
        return [model("model-01-004").pk, model("model-00-003").pk]

    offer = picker.offer(user, selected=model("model-01-001").pk, keep=recent)

    assert labels(offer) == ["Model 00-003", "Model 01-001", "Model 01-002", "Model 01-004"]
    assert (offer.searchable, offer.total, asked) == (True, 2 * picker.INLINE_LIMIT, [True])


def test_search_matches_every_word_in_the_id_name_or_provider_in_any_case(
    user: User,
) -> None:
    openai = make_provider()
    make_model(openai, model_id="gpt-4o-mini", display_name="Mini")
    make_model(openai, model_id="o3", display_name="Reasoner")
    make_model(make_provider(name="Mistral"), model_id="mistral-large", display_name="Large")

    def found(text: str) -> list[str]:
        return labels(picker.search(user, text, selected=None))

    assert found("GPT-4O") == ["Mini"]
    assert found("reason") == ["Reasoner"]
    assert found("openai") == ["Mini", "Reasoner"]
    assert found("  openai   mini ") == ["Mini"]
    assert found("openai large") == []
    assert picker.search(user, "openai large", selected=None).no_match


def test_search_is_bounded_and_counts_the_matches_left_out(user: User) -> None:
    make_catalogue(providers=2, models=picker.SEARCH_LIMIT)

    offer = picker.search(user, "model", selected=None)

    assert len(labels(offer)) == picker.SEARCH_LIMIT
    assert offer.more == picker.SEARCH_LIMIT


def test_search_keeps_the_selected_model_so_the_form_still_posts_it(user: User) -> None:
    make_catalogue(providers=3, models=30)

    offer = picker.search(user, "02-01", selected=model("model-00-005").pk)

    assert labels(offer)[0] == "Model 00-005"
    assert labels(offer)[1:] == [f"Model 02-01{n}" for n in range(10)]
    assert offer.selected == model("model-00-005").pk


def test_the_search_answers_options_for_the_picker(alice: Client) -> None:
    make_catalogue(providers=2, models=picker.INLINE_LIMIT)
    chosen = model("model-00-007")

    html = search_page(alice, q="01-04", model=chosen.pk)

    assert html.startswith('\n<optgroup label="Provider 00">')
    assert f'<option value="{chosen.pk}" selected>Model 00-007</option>' in html
    assert f'<option value="{model("model-01-041").pk}">Model 01-041</option>' in html
    assert html.count("<option") == 11
    assert "No model matches" in search_page(alice, q="nothing-like-it")


def test_clearing_the_search_gives_the_shortlist_back(alice: Client) -> None:
    make_catalogue(providers=2, models=picker.INLINE_LIMIT)
    chosen, kept = model("model-00-007"), model("model-01-008")

    html = search_page(alice, q="", model=chosen.pk, keep=[kept.pk, "x", "9" * 30], automatic=1)

    assert html.count("<option") == 3
    assert '<option value="">Automatic (your tier\'s default)</option>' in html
    assert f'<option value="{chosen.pk}" selected>Model 00-007</option>' in html
    assert f'<option value="{kept.pk}">Model 01-008</option>' in html


def test_the_search_never_lists_a_model_closed_to_the_persons_tier(
    alice: Client, user: User
) -> None:
    make_tier("Interns", is_default=True)
    research = make_tier("Research")
    openai = make_provider()
    make_model(openai, model_id="gpt-4o-mini", display_name="Mini")
    closed = make_model(openai, model_id="gpt-4o", display_name="GPT-4o")
    closed.allowed_tiers.add(research)
    # Asked for by name, as the selected model and as one to keep: never listed.
    asks = [{"q": "gpt"}, {"q": "", "model": closed.pk}, {"q": "", "keep": closed.pk}]

    before = [search_page(alice, **ask) for ask in asks]
    join(user, research)
    after = search_page(alice, q="gpt")

    assert "Mini" in before[0]
    assert all("GPT-4o" not in html and f'"{closed.pk}"' not in html for html in before)
    assert f'<option value="{closed.pk}">GPT-4o</option>' in after


def test_the_search_needs_a_login(client: Client) -> None:
    make_model(make_provider(), model_id="gpt-4o")

    response = client.get(reverse("providers:model_search"), {"q": "gpt"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
