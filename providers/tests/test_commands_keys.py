"""rotate_keys and generate_encryption_key, run as a person would run them."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from providers.models import PersonalKey, Provider
from providers.tests.factories import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    make_anthropic_provider,
    make_provider,
)

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def reload(provider: Provider) -> Provider:
    return Provider.objects.get(pk=provider.pk)


def test_rotation_moves_every_secret_to_the_newest_key_then_the_old_key_can_go(
    settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    openai = make_provider(api_key=OPENAI_KEY)
    anthropic = make_anthropic_provider()
    make_provider(name="Ollama", preset="ollama", api_key="", base_url="https://ollama.lan/v1")

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    call_command("rotate_keys")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]

    out = capsys.readouterr().out
    assert "Rotated 2 secrets; 0 already used the newest key." in out
    assert reload(openai).api_key.reveal() == OPENAI_KEY
    assert reload(anthropic).api_key.reveal() == ANTHROPIC_KEY
    assert OPENAI_KEY not in out


def test_personal_keys_rotate_with_the_teams(
    settings, user, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    openai = make_provider(api_key=OPENAI_KEY)
    mine = "sk-proj-FAKE.alice.rotated.key.000"
    PersonalKey.objects.create(user=user, provider=openai, api_key=mine)

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    call_command("rotate_keys")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]

    assert "Rotated 2 secrets; 0 already used the newest key." in capsys.readouterr().out
    assert PersonalKey.objects.get(user=user).api_key.reveal() == mine


def test_rotation_is_idempotent(settings, capsys: pytest.CaptureFixture[str]) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    provider = make_provider()
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    call_command("rotate_keys")
    token_after_first_run = reload(provider).api_key.token()

    call_command("rotate_keys")

    assert "Rotated 0 secrets; 1 already used the newest key." in capsys.readouterr().out
    assert reload(provider).api_key.token() == token_after_first_run


def test_rotation_changes_nothing_when_a_secret_is_unreadable(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    make_provider(name="Lost", api_key=OPENAI_KEY)
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    readable = make_provider(name="Kept", api_key=OPENAI_KEY)
    token_before = readable.api_key.token()
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    with pytest.raises(CommandError, match="no configured key decrypts provider “Lost”"):
        call_command("rotate_keys")

    assert reload(readable).api_key.token() == token_before


def test_generate_encryption_key_prints_a_usable_fernet_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    call_command("generate_encryption_key")

    key = capsys.readouterr().out.strip()
    assert Fernet(key).decrypt(Fernet(key).encrypt(b"ok")) == b"ok"
