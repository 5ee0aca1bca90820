from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from providers.keys.encryption import UNREADABLE_LABEL, Secret, UnreadableSecretError, mask
from providers.tests.factories import OPENAI_KEY

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        ("sk-proj-" + "a1b2c3d4" * 19 + "7f3a", "sk-pr…7f3a"),  # a real key's length
        (OPENAI_KEY, "sk-…234"),  # 34 characters: six shown
        ("gsk_" + "x" * 12 + "9z", "g…9z"),  # 18 characters: three shown
        ("abc123def456", "a…6"),
        ("abcdefghi", "…i"),
        ("abcd", "… (4 characters)"),
        ("x", "… (1 character)"),
        ("", ""),
    ],
)
def test_a_masked_secret_shows_its_ends_and_never_more_than_a_fifth(
    secret: str, masked: str
) -> None:
    assert mask(secret) == masked


def test_a_secret_never_prints_its_plain_value() -> None:
    secret = Secret(OPENAI_KEY)

    assert f"{secret} {secret!r}" == "sk-…234 <Secret sk-…234>"
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
