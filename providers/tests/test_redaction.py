"""Redaction of a key an upstream echoes back (providers/keys/redaction.py)."""

from __future__ import annotations

import base64

import pytest

from fakes.upstream import KEY_ECHOES
from providers.keys.redaction import WITHHELD, redact
from providers.tests.factories import ANTHROPIC_KEY, OPENAI_KEY
from providers.tests.leaks import assert_keyless

ORDINARY = [
    "Incorrect API key provided. You can find your API key at "
    "https://platform.openai.com/account/api-keys.",
    "The model `gpt-4o` does not exist or you do not have access to it.",
    "Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM).",
    "messages.0.content: Input should be a valid string",
    "Überlastet — bitte später erneut versuchen. 服务繁忙",
    r"a stray \x escape and a broken \u12 one",
]


@pytest.mark.parametrize("key", [OPENAI_KEY, ANTHROPIC_KEY])
@pytest.mark.parametrize("echo", KEY_ECHOES)
def test_every_echo_form_is_masked_or_withheld(key: str, echo: str) -> None:
    text = f"Invalid key {KEY_ECHOES[echo](key)} (request req_123)."

    redacted = redact(text, key)

    assert_keyless(redacted, key)
    assert redacted == WITHHELD or (
        redacted.startswith("Invalid key ") and redacted.endswith(" (request req_123).")
    )


@pytest.mark.parametrize("text", ORDINARY)
def test_text_without_the_key_is_left_as_it_is(text: str) -> None:
    assert redact(text, OPENAI_KEY) == text


def test_a_fragment_of_eight_characters_is_masked_and_seven_are_not() -> None:
    assert redact(f"seen: {OPENAI_KEY[10:18]}", OPENAI_KEY) == "seen: sk-…234"
    assert redact(f"seen: {OPENAI_KEY[10:17]}", OPENAI_KEY) == f"seen: {OPENAI_KEY[10:17]}"


def test_no_key_redacts_nothing() -> None:
    assert redact("anything at all", "") == "anything at all"


def test_one_broken_escape_does_not_hide_a_key_in_the_others() -> None:
    escaped = "".join(f"\\u{ord(c):04x}" for c in OPENAI_KEY)

    redacted = redact(f"path C:\\xyz failed for {escaped}", OPENAI_KEY)

    assert_keyless(redacted, OPENAI_KEY, shows="path C:")


@pytest.mark.parametrize("prefix", ["token=", "key:", "auth=Basic:"])
def test_an_encoded_key_glued_to_a_label_is_masked(prefix: str) -> None:
    encoded = base64.b64encode(OPENAI_KEY.encode()).decode()

    redacted = redact(f"rejected {prefix}{encoded} (401)", OPENAI_KEY)

    assert encoded not in redacted
    assert redacted.startswith("rejected ")
    assert redacted.endswith("sk-…234 (401)")
