"""Checking that a text shows a key in none of the forms an upstream may echo it in."""

from __future__ import annotations

from fakes.upstream import KEY_ECHOES


def assert_keyless(text: str, key: str, *, shows: str | None = None) -> None:
    """`shows` is what the text must say besides: a blank page or an empty error has no key
    in it either, so the key's absence alone proves nothing about the text."""
    if shows is not None:
        assert shows in text, f"{shows!r} is not in: {text!r}"
    for name, echo in KEY_ECHOES.items():
        assert echo(key).lower() not in text.lower(), f"the key, {name}, is in: {text!r}"
