"""Secrets at rest: the Fernet keyring and the Secret value that model fields hold.

FIELD_ENCRYPTION_KEYS lists Fernet keys newest first. The newest encrypts; every key
decrypts, so a new key can be prepended, `manage.py rotate_keys` run, and the old key
dropped (README, "Rotating the encryption key").

A Secret prints masked wherever it lands (f-strings, logs, templates, repr): only
`reveal()` gives the plain value, and it raises UnreadableSecretError rather than return
ciphertext when no configured key opens the stored token.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from providers.errors import UserFacingError

UNREADABLE_LABEL = "key unreadable — re-enter"


class UnreadableSecretError(UserFacingError):
    """No key in FIELD_ENCRYPTION_KEYS decrypts the stored value."""

    category = "bad key"
    user_message = (
        "The stored key cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS; "
        "re-enter it, or restore the encryption key it was saved with."
    )


@lru_cache(maxsize=4)
def _keyring_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def keyring() -> MultiFernet:
    # Keyed by the configured keys, so a settings override (tests, rotation) takes effect.
    return _keyring_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def newest_key() -> Fernet:
    return Fernet(settings.FIELD_ENCRYPTION_KEYS[0])


def encrypt(plain: str) -> str:
    return keyring().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return keyring().decrypt(token.encode()).decode()
    except InvalidToken:
        raise UnreadableSecretError from None


def needs_rotation(token: str) -> bool:
    """True when the newest key does not open `token` (it was sealed with an older one)."""
    try:
        newest_key().decrypt(token.encode())
    except InvalidToken:
        return True
    return False


def rotate(token: str) -> str:
    try:
        return keyring().rotate(token.encode()).decode()
    except InvalidToken:
        raise UnreadableSecretError from None


def mask(plain: str) -> str:
    """Enough of a secret to tell it from another, never more than a fifth of it: its
    first and last characters, up to five and four ("sk-pr…7f3a" for a typical key;
    keys of one provider share their prefix, so the end tells them apart); a secret
    under five characters shows only its length."""
    if not plain:
        return ""
    shown = min(9, len(plain) // 5)
    if not shown:
        return f"… ({len(plain)} character{'' if len(plain) == 1 else 's'})"
    end = min(4, (shown + 1) // 2)
    start = shown - end
    return f"{plain[:start]}…{plain[-end:]}"


class Secret:
    """A secret as a model field holds it: sealed (as loaded) or plain (as just set).

    A sealed value keeps its token, so saving a row whose key nobody touched writes the
    same token back without decrypting it; only a newly set value is encrypted.
    """

    __slots__ = ("_plain", "_token")

    def __init__(self, plain: str = "", *, token: str = "") -> None:
        self._plain = plain
        self._token = token

    @classmethod
    def sealed(cls, token: str) -> Secret:
        return cls(token=token)

    @property
    def is_stored(self) -> bool:
        """True for the value as loaded or saved; False for one set since (re-entered)."""
        return bool(self._token)

    def __bool__(self) -> bool:
        return bool(self._plain or self._token)

    def reveal(self) -> str:
        if not self._plain and self._token:
            self._plain = decrypt(self._token)
        return self._plain

    def masked(self) -> str:
        """ "sk-pr…7f3a" for display (mask); "" for no key; a hint to re-enter an
        unreadable one."""
        try:
            return mask(self.reveal())
        except UnreadableSecretError:
            return UNREADABLE_LABEL

    def token(self) -> str:
        """The stored form: "" for no key, else a Fernet token."""
        if not self._token and self._plain:
            self._token = encrypt(self._plain)
        return self._token

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"<Secret {self.masked() or 'empty'}>"
