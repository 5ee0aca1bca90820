"""Which model answers: the router's resolution order, on a real database."""

from __future__ import annotations

import pytest

from providers.models import LLMModel
from providers.runners.router import NoUsableModelError, resolve_model, resolve_model_id
from providers.tests.factories import make_model, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def openai_models() -> tuple[LLMModel, LLMModel]:
    openai = make_provider()
    return make_model(openai, model_id="gpt-4o"), make_model(openai, model_id="gpt-4o-mini")


def test_the_chosen_model_wins(openai_models: tuple[LLMModel, LLMModel]) -> None:
    first, second = openai_models

    assert resolve_model(chosen=second, current=first) == second


def test_then_the_sessions_current_model(openai_models: tuple[LLMModel, LLMModel]) -> None:
    _, second = openai_models

    assert resolve_model(current=second) == second


def test_then_the_first_usable_preferring_a_default() -> None:
    groq = make_provider(
        name="Groq", preset="groq", base_url="https://api.groq.com/openai/v1", api_key="gsk_x"
    )
    make_model(groq, model_id="a-model")
    default = make_model(groq, model_id="z-model", is_default=True)

    assert resolve_model() == default


def test_a_stale_current_model_is_passed_over(openai_models: tuple[LLMModel, LLMModel]) -> None:
    first, second = openai_models
    second.enabled = False
    second.save()

    assert resolve_model(current=second) == first


def test_a_chosen_model_switched_off_is_an_error(openai_models: tuple[LLMModel, LLMModel]) -> None:
    first, _ = openai_models
    first.provider.enabled = False
    first.provider.save()

    with pytest.raises(NoUsableModelError, match="gpt-4o cannot be used now"):
        resolve_model(chosen=first)


def test_nothing_usable_says_what_to_enable() -> None:
    make_model(make_provider(enabled=False, api_key=""), model_id="gpt-4o")

    with pytest.raises(NoUsableModelError, match="enable a provider that has an API key"):
        resolve_model()


def test_a_keyless_preset_is_usable_without_a_key() -> None:
    ollama = make_provider(
        name="Ollama",
        preset="ollama",
        api_key="",
        base_url="http://localhost:11434/v1",
        allow_private_network=True,
    )
    llama = make_model(ollama, model_id="llama3.2")

    assert list(LLMModel.objects.usable()) == [llama]


def test_a_bare_model_id_prefers_the_provider_with_a_key() -> None:
    proxy = make_provider(
        name="A proxy", preset="custom", base_url="https://proxy.example.com/v1", api_key=""
    )
    make_model(proxy, model_id="gpt-4o")
    keyed = make_model(make_provider(), model_id="gpt-4o")

    assert resolve_model_id("gpt-4o") == keyed


def test_an_unknown_bare_model_id_is_named() -> None:
    with pytest.raises(NoUsableModelError, match="offers a model with the id gpt-9"):
        resolve_model_id("gpt-9")
