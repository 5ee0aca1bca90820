from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from providers.models import LLMModel, ModelSource, Provider
from providers.presets import BUILTIN_PRESETS
from providers.seeding import seed_providers
from providers.tests.concurrency import run_at_once
from providers.tests.factories import ANTHROPIC_KEY, OPENAI_KEY, make_provider

pytestmark = pytest.mark.django_db


def test_it_adds_every_built_in_provider_with_starter_models() -> None:
    report = seed_providers(api_keys={})

    assert len(report.created) == len(BUILTIN_PRESETS) == 10
    anthropic = Provider.objects.get(preset="anthropic")
    assert (anthropic.protocol, anthropic.base_url) == ("anthropic", "https://api.anthropic.com")
    assert anthropic.is_builtin
    assert anthropic.models.count() == 3
    assert anthropic.models.get(is_default=True).model_id == "claude-sonnet-5-5"
    assert set(LLMModel.objects.values_list("source", flat=True)) == {ModelSource.PRESET}
    assert not Provider.objects.filter(preset="custom").exists()


def test_every_provider_starts_disabled_without_a_key_ollama_included() -> None:
    seed_providers(api_keys={})

    assert not Provider.objects.filter(enabled=True).exists()
    # Nothing may listen at Ollama's address: staff verify it and switch it on.
    ollama = Provider.objects.get(preset="ollama")
    assert ollama.base_url == "http://localhost:11434/v1"
    assert ollama.allow_private_network
    assert ollama.models.get(is_default=True).model_id == "llama3.2"


def test_seeding_twice_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("seed_providers")
    before = list(Provider.objects.values_list("pk", "updated_at"))

    call_command("seed_providers")

    out = capsys.readouterr().out
    assert "Seeded providers: 10 created, 0 skipped." in out
    assert "Seeded providers: 0 created, 10 skipped." in out
    assert list(Provider.objects.values_list("pk", "updated_at")) == before
    assert LLMModel.objects.count() == sum(len(p.starter_models) for p in BUILTIN_PRESETS)


def test_it_never_overwrites_what_someone_changed() -> None:
    seed_providers(api_keys={})
    openai = Provider.objects.get(preset="openai")
    openai.name = "OpenAI (research)"
    openai.save()
    openai.models.filter(model_id="gpt-5.5").delete()

    report = seed_providers(api_keys={})

    assert report.created == []
    assert len(report.skipped) == len(BUILTIN_PRESETS)
    openai.refresh_from_db()
    assert openai.name == "OpenAI (research)"
    assert not openai.models.filter(model_id="gpt-5.5").exists()


def test_a_deleted_built_in_comes_back_unless_seeding_only_an_empty_registry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed_providers(api_keys={})
    Provider.objects.filter(preset="groq").delete()

    call_command("seed_providers", "--if-empty")
    assert not Provider.objects.filter(preset="groq").exists()
    assert "Providers exist already; nothing seeded." in capsys.readouterr().out

    call_command("seed_providers")
    assert Provider.objects.filter(preset="groq").exists()


def test_a_provider_of_the_same_name_is_skipped_not_duplicated() -> None:
    make_provider(name="OpenAI", preset="custom", base_url="https://proxy.example.com/v1")

    report = seed_providers(api_keys={})

    assert "OpenAI" in report.skipped
    assert Provider.objects.filter(name="OpenAI").get().preset == "custom"


def test_env_keys_are_stored_encrypted_and_enable_the_provider(
    settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.PROVIDER_API_KEYS = {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY}

    call_command("seed_providers")

    openai = Provider.objects.get(preset="openai")
    assert openai.enabled
    assert openai.api_key.reveal() == OPENAI_KEY
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM providers_provider")
        stored = [row[0] for row in cursor.fetchall() if row[0]]
    assert len(stored) == 2
    assert all(token.startswith("gAAAAA") and OPENAI_KEY not in token for token in stored)
    captured = capsys.readouterr()
    assert "2 keys stored" in captured.out
    assert OPENAI_KEY not in captured.out + captured.err


def test_an_env_key_fills_an_existing_provider_without_a_key_only(
    settings, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_providers(api_keys={})
    Provider.objects.filter(preset="anthropic").update(api_key=ANTHROPIC_KEY)
    settings.PROVIDER_API_KEYS = {"openai": OPENAI_KEY, "anthropic": "sk-ant-other-0000000000"}

    call_command("seed_providers")

    assert Provider.objects.get(preset="openai").api_key.reveal() == OPENAI_KEY
    assert Provider.objects.get(preset="anthropic").api_key.reveal() == ANTHROPIC_KEY
    assert "OpenAI: key stored; enable it in the admin." in capsys.readouterr().err


def test_an_env_key_with_another_vendors_prefix_is_stored_with_a_warning(
    settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.PROVIDER_API_KEYS = {"groq": ANTHROPIC_KEY}

    call_command("seed_providers")

    assert "Groq: This key starts with “sk-ant-”" in capsys.readouterr().err


def test_a_malformed_env_key_stops_the_seed_and_names_the_variable(settings) -> None:
    settings.PROVIDER_API_KEYS = {"mistral": "abc def"}

    with pytest.raises(
        CommandError, match=r"Mistral \(MISTRAL_API_KEY\): An API key has no spaces"
    ):
        call_command("seed_providers")

    assert not Provider.objects.exists()  # nothing half-done


@pytest.mark.django_db(transaction=True)
def test_two_seeds_at_once_create_each_provider_once() -> None:
    errors = run_at_once(lambda: seed_providers(api_keys={}), times=2)

    assert errors == []
    assert Provider.objects.count() == 10
    assert LLMModel.objects.filter(is_default=True).count() == 10
