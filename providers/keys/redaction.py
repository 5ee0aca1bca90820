"""Masking a key in text an upstream sent back, whatever form the key came back in.

Upstreams quote the key they received in their error messages, and not always as sent:
lower-cased or upper-cased, cut short, with the middle starred out, percent-, base64- or
hex-encoded (a Basic auth header echoed back), as \\u escapes or HTML entities, spaced
out. So redaction does not look for the key; it looks for any run of eight characters of
it (FRAGMENT), case folded, in each word of the text and in each word decoded. A word that
holds one is replaced by the key's mask. Then the whole text is decoded every way at once;
if the key still shows through, the text is withheld entirely rather than half masked.

Eight characters: shorter runs turn up by chance in ordinary words; a longer one would let
an upstream print a seven-character slice of the key. Every key of one vendor shares its
first eight characters ("sk-proj-"), so such a prefix is masked too, harmlessly.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterator
from urllib.parse import unquote

from providers.keys.encryption import mask

FRAGMENT = 8
WITHHELD = "(The provider's message is withheld: it quoted the API key.)"

# A word: what keys, and their URL, base64 and hex encodings, are made of.
_WORD = re.compile(r"[A-Za-z0-9_\-.~+/=%]+")
_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]")


def redact(text: str, secret: str) -> str:
    """`text` with every trace of `secret` masked, or WITHHELD when one cannot be cut out."""
    if not secret or not text:
        return text
    fragments = _fragments(secret)

    def masked(word: re.Match[str]) -> str:
        found = any(_holds(form, fragments) for form in _word_forms(word[0]))
        return mask(secret) if found else word[0]

    # The text as sent first; where the key hid in entities or escapes, the text decoded.
    for form in _unescaped(text):
        redacted = _WORD.sub(masked, form)
        if not any(_holds(trace, fragments) for trace in _text_forms(redacted)):
            return redacted
    return WITHHELD


def _fragments(secret: str) -> frozenset[str]:
    """Every FRAGMENT-long slice of the key, case folded: forwards, backwards, and with its
    separators dropped (so "s k - p r o j" and "skproj" both show it)."""
    folded = secret.lower()
    forms = {folded, folded[::-1], _alphanumeric(folded), _alphanumeric(folded)[::-1]}
    size = min(FRAGMENT, len(folded))
    return frozenset(form[i : i + size] for form in forms for i in range(len(form) - size + 1))


def _holds(text: str, fragments: frozenset[str]) -> bool:
    size = len(next(iter(fragments)))
    folded = text.lower()
    return any(folded[i : i + size] in fragments for i in range(len(folded) - size + 1))


# Where an encoded key may start inside a word: after "token=" or "Basic:", say ("=" at
# the end is base64's padding, not a separator).
_PART = re.compile(r":|=(?=[^=])")


def _word_forms(word: str) -> Iterator[str]:
    yield word
    yield unquote(word)
    for part in {word, *_PART.split(word)}:
        padded = part + "=" * (-len(part) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode, bytes.fromhex):
            try:
                yield decode(part if decode is bytes.fromhex else padded).decode("latin-1")
            except (binascii.Error, ValueError):
                continue


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")


def _unescaped(text: str) -> list[str]:
    # Each \uXXXX and \xXX on its own: one malformed escape elsewhere must not stop the rest.
    escapes = _ESCAPE.sub(lambda m: chr(int(m[1] or m[2], 16)), text)
    return [text, html.unescape(text), escapes]


def _text_forms(text: str) -> Iterator[str]:
    forms = [*_unescaped(text), unquote(text)]
    yield from forms
    yield from (_alphanumeric(form.lower()) for form in forms)


def _alphanumeric(text: str) -> str:
    return _NOT_ALPHANUMERIC.sub("", text)
