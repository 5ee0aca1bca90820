"""Who may use which model: tiers, every refusal with its reason, the default chain."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError

from providers import access
from providers.models import LLMModel, Tier
from providers.tests.factories import join, make_model, make_provider, make_tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue() -> dict[str, LLMModel]:
    openai = make_provider()
    return {
        "cheap": make_model(openai, model_id="gpt-4o-mini", display_name="Mini"),
        "big": make_model(openai, model_id="gpt-4o", display_name="GPT-4o", is_default=True),
    }


def test_a_model_without_tiers_is_open_to_everyone(
    user: User, catalogue: dict[str, LLMModel]
) -> None:
    assert set(access.available_models(user)) == set(catalogue.values())


def test_a_model_listing_tiers_is_only_for_their_members(
    user: User, other_user: User, catalogue: dict[str, LLMModel]
) -> None:
    research = make_tier("Research")
    make_tier("Interns", is_default=True)
    catalogue["big"].allowed_tiers.add(research)
    join(user, research)

    assert set(access.available_models(user)) == set(catalogue.values())
    assert list(access.available_models(other_user)) == [catalogue["cheap"]]


def test_a_user_in_no_tier_gets_the_default_tier(
    user: User, catalogue: dict[str, LLMModel]
) -> None:
    interns = make_tier("Interns", is_default=True)
    catalogue["cheap"].allowed_tiers.add(interns)
    catalogue["big"].allowed_tiers.add(make_tier("Research"))

    assert access.tiers_for(user) == [interns]
    assert list(access.available_models(user)) == [catalogue["cheap"]]


def test_a_model_open_to_two_of_the_users_tiers_is_granted_once_with_both(
    user: User, catalogue: dict[str, LLMModel]
) -> None:
    research, labs = make_tier("Research"), make_tier("Labs")
    make_tier("Interns", is_default=True)
    catalogue["big"].allowed_tiers.add(research, labs)
    join(user, research)
    join(user, labs)

    granted = access.grant(user, catalogue["big"].pk)

    assert granted.model == catalogue["big"]
    # The default tier is for those in no other: not this member of two.
    assert set(granted.tiers) == {research, labs}
    assert access.default_model(user) == catalogue["big"]


def test_not_allowed_for_the_tier_names_the_tier(
    user: User, catalogue: dict[str, LLMModel]
) -> None:
    make_tier("Interns", is_default=True)
    catalogue["big"].allowed_tiers.add(make_tier("Research"))

    with pytest.raises(
        access.TierNotAllowedError, match=r"GPT-4o is not available to your tier \(Interns\)"
    ):
        access.grant(user, catalogue["big"].pk)


def test_a_disabled_model_is_refused(user: User, catalogue: dict[str, LLMModel]) -> None:
    LLMModel.objects.filter(pk=catalogue["big"].pk).update(enabled=False)

    with pytest.raises(access.ModelDisabledError, match="GPT-4o is switched off"):
        access.grant(user, catalogue["big"].pk)


def test_a_deleted_model_is_refused_as_deleted(user: User, catalogue: dict[str, LLMModel]) -> None:
    LLMModel.objects.filter(pk=catalogue["big"].pk).update(deleted_at="2026-11-30T10:00:00Z")

    with pytest.raises(access.ModelDisabledError, match="GPT-4o was deleted from the catalogue"):
        access.grant(user, catalogue["big"].pk)
    assert catalogue["big"].pk not in access.available_models(user).values_list("pk", flat=True)


@pytest.mark.parametrize("change", [{"enabled": False}, {"api_key": ""}])
def test_a_provider_switched_off_or_without_key_is_refused(
    user: User, catalogue: dict[str, LLMModel], change: dict
) -> None:
    type(catalogue["big"].provider).objects.update(**change)

    with pytest.raises(access.ProviderUnavailableError, match="its provider OpenAI"):
        access.grant(user, catalogue["big"].pk)


# Past the largest id too: a query for it would be an overflow error, not "no such model".
@pytest.mark.parametrize("pk", [999_999, 0, -1, 2**63, 10**30])
def test_an_unknown_model_is_refused(user: User, pk: int) -> None:
    with pytest.raises(access.UnknownModelError, match="does not exist"):
        access.grant(user, pk)


def test_a_choice_is_logged_without_secrets(
    user: User, catalogue: dict[str, LLMModel], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="providers.access")

    access.grant(user, catalogue["big"].pk)

    assert "Model chosen: user=alice model=gpt-4o provider=OpenAI" in caplog.text
    assert catalogue["big"].provider.api_key.reveal() not in caplog.text


def test_the_default_chain(user: User, catalogue: dict[str, LLMModel]) -> None:
    # Nothing else said: the provider's default model.
    assert access.default_model(user) == catalogue["big"]
    # The tier's default wins over the provider's.
    make_tier("Everyone", is_default=True, default_model=catalogue["cheap"])
    assert access.default_model(user) == catalogue["cheap"]
    # The session's current model wins while it stays available.
    assert access.default_model(user, current=catalogue["big"]) == catalogue["big"]
    # A tier default that is switched off is passed over.
    LLMModel.objects.filter(pk=catalogue["cheap"].pk).update(enabled=False)
    assert access.default_model(user) == catalogue["big"]


def test_nothing_available_says_what_to_enable(user: User) -> None:
    with pytest.raises(access.NoUsableModelError, match="enable a provider that has an API key"):
        access.default_model(user)


def test_a_keyless_preset_is_usable_without_a_key(user: User) -> None:
    ollama = make_provider(
        name="Ollama",
        preset="ollama",
        api_key="",
        base_url="http://localhost:11434/v1",
        allow_private_network=True,
    )
    llama = make_model(ollama, model_id="llama3.2")

    assert list(access.available_models(user)) == [llama]


def test_a_tier_gets_a_group_named_after_it() -> None:
    tier = make_tier("Research")

    assert tier.group == Group.objects.get(name="Research")


def test_only_one_default_tier() -> None:
    make_tier("Interns", is_default=True)

    with pytest.raises(ValidationError, match=r"Another tier is already the default tier\."):
        Tier(name="Staff", is_default=True).full_clean()
