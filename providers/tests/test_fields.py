from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from providers.keys.encryption import UnreadableSecretError
from providers.models import Provider
from providers.tests.factories import OPENAI_KEY, make_provider

pytestmark = pytest.mark.django_db


def stored_column(provider: Provider) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM providers_provider WHERE id = %s", [provider.pk])
        return cursor.fetchone()[0]


def test_the_key_round_trips_and_the_column_holds_only_ciphertext() -> None:
    provider = make_provider(api_key=OPENAI_KEY)

    column = stored_column(provider)

    assert OPENAI_KEY not in column
    assert column.startswith("gAAAAA")  # a Fernet token: version byte 0x80, base64
    assert Provider.objects.get(pk=provider.pk).api_key.reveal() == OPENAI_KEY


def test_loading_a_row_does_not_decrypt_it(settings) -> None:
    provider = make_provider()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    loaded = Provider.objects.get(pk=provider.pk)  # must not raise

    with pytest.raises(UnreadableSecretError):
        loaded.api_key.reveal()


def test_saving_an_untouched_row_keeps_the_same_token() -> None:
    provider = make_provider()
    before = stored_column(provider)

    provider.name = "OpenAI (team)"
    provider.save()

    assert stored_column(provider) == before


def test_assigning_a_string_gives_a_secret() -> None:
    provider = Provider(api_key="gsk_" + "a" * 40)

    assert provider.api_key.reveal() == "gsk_" + "a" * 40
    assert not provider.api_key.is_stored


def test_an_empty_key_is_an_empty_column_so_has_key_is_a_filter() -> None:
    make_provider(name="Ollama", preset="ollama", api_key="", base_url="https://ollama.lan/v1")
    make_provider(name="OpenAI")

    assert stored_column(Provider.objects.get(name="Ollama")) == ""
    assert list(Provider.objects.exclude(api_key="").values_list("name", flat=True)) == ["OpenAI"]


def test_dumpdata_carries_the_token_not_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    provider = make_provider()

    call_command("dumpdata", "providers.provider")

    dumped = capsys.readouterr().out
    assert OPENAI_KEY not in dumped
    assert json.loads(dumped)[0]["fields"]["api_key"] == stored_column(provider)
