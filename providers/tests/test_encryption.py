from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from providers.keys.encryption import UNREADABLE_LABEL, Secret, UnreadableSecretError, mask
from providers.tests.factories import OPENAI_KEY

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_it_masks_to_five_characters_and_an_ellipsis() -> None:
    assert mask(OPENAI_KEY) == "sk-pr…"
    assert mask("") == ""


def test_it_shows_nothing_of_a_short_secret() -> None:
    assert mask("abc123def456") == "…"


def test_a_secret_never_prints_its_plain_value() -> None:
    secret = Secret(OPENAI_KEY)

    assert f"{secret} {secret!r}" == "sk-pr… <Secret sk-pr…>"
    assert secret.reveal() == OPENAI_KEY


def test_a_sealed_secret_decrypts_with_any_configured_key(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    token = Secret(OPENAI_KEY).token()

    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    assert Secret.sealed(token).reveal() == OPENAI_KEY


def test_a_token_no_key_opens_raises_and_never_returns_ciphertext(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    token = Secret(OPENAI_KEY).token()
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    secret = Secret.sealed(token)

    with pytest.raises(UnreadableSecretError) as caught:
        secret.reveal()

    assert str(caught.value) == UnreadableSecretError.user_message
    assert secret.masked() == UNREADABLE_LABEL
    assert repr(secret) == f"<Secret {UNREADABLE_LABEL}>"


def test_an_empty_secret_is_false_and_stores_nothing() -> None:
    assert not Secret()
    assert Secret().token() == ""
    assert Secret("x" * 30)
