"""Checking that a text shows a key in none of the forms an upstream may echo it in."""

from __future__ import annotations

from fakes.upstream import KEY_ECHOES


def assert_keyless(text: str, key: str) -> None:
    for name, echo in KEY_ECHOES.items():
        assert echo(key).lower() not in text.lower(), f"the key, {name}, is in: {text!r}"
