"""Validation at save: each rule, with the message a person sees, on the field it names."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from providers.models import LLMModel, PersonalKey, Provider
from providers.tests.factories import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    build_provider,
    make_anthropic_provider,
    make_model,
    make_provider,
)

pytestmark = pytest.mark.django_db


def errors_of(instance: Provider | LLMModel) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Enter the provider's API base URL."),
        ("api.openai.com/v1", "Enter an http:// or https:// URL"),
        ("ftp://api.openai.com/v1", "Enter an http:// or https:// URL"),
        ("file:///etc/passwd", "Enter an http:// or https:// URL"),
        ("https://user:pass@api.openai.com/v1", "Remove the user name and password"),
        ("https://token@api.openai.com/v1", "Remove the user name and password"),
        ("https://api.openai.com/v1?key=abc", "Remove the query string"),
        ("https://api.openai.com/v1#frag", "Remove the fragment"),
        ("https://api.openai.com/v1#", "Remove the fragment"),
        ("https:///v1", "The URL has no host name."),
        ("https://api.openai.com:99999/v1", "port is not a number from 0 to 65535"),
        ("https://api.openai.com/v 1", "The URL contains spaces"),
        (" https://api.openai.com/v1", "The URL contains spaces"),
        ("http://api.openai.com/v1", "Use https://. Plain http:// is accepted only with"),
        ("https://0177.0.0.1/v1", "This is not a valid URL: Invalid IPv4 address"),
        ("https://10.0.0.5/v1", "This address is refused: it is a private address"),
        ("https://[::1]:8080/v1", "This address is refused: it is a loopback address"),
        ("https://169.254.169.254/v1", "it is a cloud metadata address, which is never allowed"),
        ("https://metadata.google.internal/v1", "it is a cloud metadata host"),
    ],
)
def test_a_bad_base_url_is_refused_with_its_reason(url: str, message: str) -> None:
    errors = errors_of(build_provider(base_url=url))

    assert any(message in error for error in errors["base_url"]), errors


def test_plain_http_is_accepted_on_a_private_network_provider() -> None:
    build_provider(base_url="http://localhost:11434/v1", allow_private_network=True).full_clean()
    build_provider(base_url="http://192.168.1.20:8000/v1", allow_private_network=True).full_clean()


def test_metadata_stays_refused_on_a_private_network_provider() -> None:
    provider = build_provider(base_url="http://169.254.169.254/v1", allow_private_network=True)

    assert "never allowed" in errors_of(provider)["base_url"][0]


def test_an_enabled_provider_whose_preset_needs_a_key_must_have_one() -> None:
    errors = errors_of(build_provider(api_key=""))

    assert errors["api_key"] == ["OpenAI needs an API key before this provider can be enabled."]


def test_a_disabled_provider_may_wait_for_its_key() -> None:
    build_provider(api_key="", enabled=False).full_clean()


def test_a_preset_that_needs_no_key_is_enabled_without_one() -> None:
    build_provider(
        name="Ollama",
        preset="ollama",
        api_key="",
        base_url="http://localhost:11434/v1",
        allow_private_network=True,
    ).full_clean()


def test_a_key_with_whitespace_inside_is_refused() -> None:
    errors = errors_of(build_provider(api_key="sk-proj-abc def"))

    assert errors["api_key"] == ["An API key has no spaces or line breaks inside it."]


@pytest.mark.parametrize(
    ("preset", "key", "warning"),
    [
        ("openai", ANTHROPIC_KEY, "starts with “sk-ant-”, the prefix of Anthropic keys"),
        ("groq", OPENAI_KEY, "the prefix of OpenAI, DeepSeek, Qwen (DashScope), Moonshot (Kimi)"),
        ("deepseek", "sk-or-v1-" + "a" * 40, "the prefix of OpenRouter keys"),
        ("anthropic", "gsk_" + "a" * 40, "Anthropic keys start with “sk-ant-”"),
        ("openai", OPENAI_KEY, ""),
        ("deepseek", "sk-" + "b" * 32, ""),
        ("mistral", "A" * 32, ""),
        ("custom", ANTHROPIC_KEY, ""),
    ],
)
def test_a_key_with_another_vendors_prefix_gets_a_warning(
    preset: str, key: str, warning: str
) -> None:
    found = build_provider(preset=preset, api_key=key).key_warning()

    assert (warning in found) if warning else found == ""
    assert key not in found


def test_moving_a_stored_key_to_another_host_is_refused() -> None:
    stored = make_provider()
    stored.base_url = "https://evil.example.com/v1"

    errors = errors_of(stored)

    assert errors["base_url"] == [
        "Re-enter the API key to point this provider at evil.example.com: "
        "a stored key is never sent to a different host by an edit alone."
    ]


def test_a_new_port_counts_as_a_new_host() -> None:
    stored = make_provider()
    stored.base_url = "https://api.openai.com:8443/v1"

    assert "base_url" in errors_of(stored)


def test_moving_host_with_the_key_re_entered_is_accepted() -> None:
    stored = make_provider()
    stored.base_url = "https://gateway.example.com/v1"
    stored.api_key = OPENAI_KEY

    stored.full_clean()


def test_changing_the_path_on_the_same_host_keeps_the_key() -> None:
    stored = make_provider()
    stored.base_url = "https://api.openai.com/v2"

    stored.full_clean()


def test_personal_keys_never_follow_their_provider_to_a_new_host(user: Any) -> None:
    stored = make_provider()
    PersonalKey.objects.create(user=user, provider=stored, api_key="sk-proj-FAKE.alice.0000000")
    stored.base_url = "https://api.openai.com/v2"  # the same host: people's keys stay
    stored.save()
    assert PersonalKey.objects.filter(provider=stored).count() == 1

    stored.base_url = "https://gateway.example.com/v1"
    stored.api_key = OPENAI_KEY  # the team's key re-entered for the new host
    stored.full_clean()
    stored.save()

    assert not PersonalKey.objects.filter(provider=stored).exists()
    assert Provider.objects.get(pk=stored.pk).api_key.reveal() == OPENAI_KEY


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ([1, 2], "Settings must be a JSON object"),
        ({"connect_timeout": 0}, "connect_timeout: must be a number between 0.5 and 60"),
        ({"read_timeout": "60"}, "read_timeout: must be a number between 1 and 600, not a string"),
        ({"extra_headers": ["X-Team"]}, "extra_headers: must be an object of header names"),
        ({"extra_headers": {"Bad Name": "x"}}, "header names must be non-empty"),
        ({"extra_headers": {"X-A": "a\r\nInjected: 1"}}, "header values must be on one line"),
        (
            {"proxy": "http://x"},
            "proxy: is not a known setting (known: api_key_env, auto_enable_new_models",
        ),
    ],
)
def test_provider_settings_are_checked_by_key(settings: Any, message: str) -> None:
    errors = errors_of(build_provider(settings=settings))

    assert any(message in error for error in errors["settings"]), errors


@pytest.mark.parametrize(
    ("model_id", "message"),
    [
        ("", "This field cannot be blank."),
        ("gpt 4o", "A model id has no spaces or line breaks"),
        ("gpt-4o\n", "A model id has no spaces or line breaks"),
    ],
)
def test_a_bad_model_id_is_refused(model_id: str, message: str) -> None:
    model = LLMModel(provider=make_provider(), model_id=model_id)

    assert any(message in error for error in errors_of(model)["model_id"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("0.7", "Settings must be a JSON object"),
        ({"temperature": 2.5}, "temperature: must be a number between 0 and 2"),
        ({"temperature": -0.1}, "temperature: must be a number between 0 and 2"),
        ({"temperature": "hot"}, "temperature: must be a number between 0 and 2, not a string"),
        ({"temperature": True}, "temperature: must be a number between 0 and 2, not true/false"),
        ({"top_p": 1.5}, "top_p: must be a number between 0 and 1"),
        ({"max_tokens": 0}, "max_tokens: must be an integer of at least 1"),
        ({"max_tokens": 1.5}, "max_tokens: must be an integer of at least 1, not 1.5"),
        ({"presence_penalty": 3}, "presence_penalty: must be a number between -2 and 2"),
        (
            {"frequency_penalty": None},
            "frequency_penalty: must be a number between -2 and 2, not null",
        ),
        ({"stop": "END"}, "stop: must be a list of strings, not a string"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop: must have at most 4 entries"),
        ({"system_prompt": ["be brief"]}, "system_prompt: must be a string, not a list"),
        (
            {"temprature": 0.7},
            "temprature: is not a known setting (known: context_tokens, frequency_penalty",
        ),
    ],
)
def test_model_settings_are_checked_by_key(settings: Any, message: str) -> None:
    model = LLMModel(provider=make_provider(), model_id="gpt-4o", settings=settings)

    assert any(message in error for error in errors_of(model)["settings"]), errors_of(model)


def test_every_problem_in_the_settings_is_reported_at_once() -> None:
    settings = {"temperature": 9, "top_p": -1, "colour": "blue"}
    model = LLMModel(provider=make_provider(), model_id="gpt-4o", settings=settings)

    assert len(errors_of(model)["settings"]) == 3


def test_good_model_settings_pass() -> None:
    settings = {
        "temperature": 0.7,
        "top_p": 1,
        "max_tokens": 1024,
        "presence_penalty": -0.5,
        "frequency_penalty": 0,
        "stop": ["END"],
        "system_prompt": "Be brief.",
    }
    LLMModel(provider=make_provider(), model_id="gpt-4o", settings=settings).full_clean()


def test_a_second_default_model_is_refused_naming_the_first() -> None:
    openai = make_provider()
    make_model(openai, model_id="gpt-4o", display_name="GPT-4o", is_default=True)

    second = LLMModel(provider=openai, model_id="gpt-4o-mini", is_default=True)

    assert errors_of(second)["is_default"] == [
        "GPT-4o is already the default model of OpenAI; untick it first."
    ]


def test_each_provider_has_its_own_default() -> None:
    make_model(make_provider(), is_default=True)
    other = make_provider(
        name="Groq", preset="groq", base_url="https://api.groq.com/openai/v1", api_key="gsk_x"
    )

    make_model(other, model_id="llama-3.3-70b-versatile", is_default=True)


def test_a_model_id_is_unique_per_build_provider() -> None:
    openai = make_provider()
    make_model(openai, model_id="gpt-4o")

    errors = errors_of(LLMModel(provider=openai, model_id="gpt-4o"))

    assert errors["__all__"] == ["This provider already has a model with this id."]


def test_the_database_refuses_a_second_default_even_without_validation() -> None:
    from django.db import IntegrityError, transaction

    openai = make_provider()
    make_model(openai, model_id="gpt-4o", is_default=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        LLMModel.objects.create(provider=openai, model_id="gpt-4o-mini", is_default=True)


def test_saving_a_new_default_lets_the_old_one_step_down() -> None:
    openai = make_provider()
    old = make_model(openai, model_id="gpt-4o", is_default=True)
    new = LLMModel(provider=openai, model_id="gpt-4o-mini", is_default=True)

    new.save_keeping_one_default()

    old.refresh_from_db()
    assert not old.is_default
    assert LLMModel.objects.get(is_default=True) == new


def test_a_runner_target_carries_the_key_but_never_prints_it() -> None:
    target = make_provider().target()

    assert target.api_key == OPENAI_KEY
    assert "name='OpenAI'" in repr(target)
    assert "base_url='https://api.openai.com/v1'" in str(target)
    assert OPENAI_KEY not in repr(target)
    assert OPENAI_KEY not in str(target)


def test_sampling_settings_are_refused_on_an_anthropic_model() -> None:
    anthropic = make_anthropic_provider()
    model = LLMModel(
        provider=anthropic,
        model_id="claude-sonnet-5-5",
        settings={"temperature": 0.5, "top_p": 0.9, "max_tokens": 1000},
    )

    assert errors_of(model)["settings"] == [
        "temperature: Anthropic's Messages API does not take this setting",
        "top_p: Anthropic's Messages API does not take this setting",
    ]
