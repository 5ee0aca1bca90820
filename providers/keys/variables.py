"""Which environment variables a catalogue may name as a provider's key, as ${NAME}.

A catalogue file comes from whoever may import one, and so does the base URL its keys
are sent to: a reference naming SECRET_KEY, FIELD_ENCRYPTION_KEYS or DATABASE_URL, then a
Verify, would hand the server's own secrets to a host of the file's choosing. So a name
is accepted only when it is meant to hold a provider key — it ends in _API_KEY, or the
operator listed it in CATALOGUE_KEY_VARIABLES — and never when it is one of
Switchboard's own settings, listed or not (config/settings.py records the names it
reads). The admin import reads no environment at all unless CATALOGUE_ADMIN_READS_ENV
is on (README, "The catalogue as code").

`refusal` and `provider_keys` are pure: config/settings.py uses them before Django is
set up. `refusal_here` asks the same under this server's settings.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from django.conf import settings

SUFFIX = "_API_KEY"


def refusal(name: str, *, listed: Collection[str], own: Collection[str]) -> str:
    """Why `name` may not hold a provider's key; "" when it may."""
    if name in own:
        return f"{name} is one of Switchboard's own settings, never a provider key"
    if name.endswith(SUFFIX) or name in listed:
        return ""
    return (
        f"{name} is not a provider key variable: name one ending in {SUFFIX}, "
        "or one the server lists in CATALOGUE_KEY_VARIABLES"
    )


def refusal_here(name: str) -> str:
    """`refusal` with the server's list and its own settings."""
    return refusal(
        name, listed=settings.CATALOGUE_KEY_VARIABLES, own=settings.SWITCHBOARD_VARIABLES
    )


def provider_keys(
    environ: Mapping[str, str], *, listed: Collection[str], own: Collection[str]
) -> dict[str, str]:
    """The variables of `environ` a reference may name, and only those."""
    return {
        name: value
        for name, value in environ.items()
        if value and not refusal(name, listed=listed, own=own)
    }
