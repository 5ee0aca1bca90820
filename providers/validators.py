"""Checks on what people type into a provider or a model, each with a message that names
what is wrong and how to fix it.

The settings checks return (key, problem) pairs instead of raising, so every caller can
place them: Model.clean() under the `settings` field, and a config import under its
path in the document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2
from django.core.exceptions import ValidationError

from providers.keys import variables
from providers.upstream import transport


def validate_base_url(url: str, *, allow_private_network: bool) -> None:
    """An http(s) URL naming a host, with nothing a key could hide in or be sent to."""
    if not url:
        raise ValidationError("Enter the provider's API base URL.", code="required")
    if url != url.strip() or any(ch.isspace() for ch in url):
        raise ValidationError("The URL contains spaces; remove them.", code="invalid")
    try:
        parts = urlsplit(url)
    except ValueError as error:  # an unclosed IPv6 bracket, say
        raise ValidationError(f"This is not a valid URL: {error}.", code="invalid") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError(
            "Enter an http:// or https:// URL, e.g. https://api.openai.com/v1.", code="scheme"
        )
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "Remove the user name and password from the URL; put the key in the API key field.",
            code="credentials",
        )
    if not parts.hostname:
        raise ValidationError("The URL has no host name.", code="invalid")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise ValidationError("The URL's port is not a number from 0 to 65535.") from None
    if parts.query:
        raise ValidationError(
            "Remove the query string (“?…”): a base URL is the prefix of API paths.",
            code="query",
        )
    if parts.fragment or url.endswith("#"):
        raise ValidationError("Remove the fragment (“#…”) from the URL.", code="fragment")
    try:
        httpx2.URL(url)  # the client's own parser: it refuses e.g. "0177.0.0.1"
    except httpx2.InvalidURL as error:
        raise ValidationError(f"This is not a valid URL: {error}.", code="invalid") from None
    reason = transport.literal_refusal(parts.hostname, allow_private_network=allow_private_network)
    if reason:
        raise ValidationError(f"This address is refused: {reason}.", code="refused")
    if parts.scheme == "http" and not allow_private_network:
        raise ValidationError(
            "Use https://. Plain http:// is accepted only with “Allow private network” "
            "turned on, for servers on your own network such as Ollama.",
            code="insecure",
        )


def validate_model_id(model_id: str) -> None:
    if not model_id:
        raise ValidationError("Enter the model id the provider uses, e.g. gpt-4o.")
    if any(ch.isspace() for ch in model_id):
        raise ValidationError(
            "A model id has no spaces or line breaks; copy it exactly as the provider lists it."
        )


GATEWAY_NAME_MAX = 200
# What a client may ask GPT-Load and uni-api for: the characters real model ids use
# (gpt-4.1, deepseek/deepseek-chat, qwen2.5:7b, llama@v3+fp8), ASCII, starting with a
# letter or digit. A gateway matches names exactly, so case is kept; "*" and "," are
# uni-api's model-list syntax and spaces break clients, so none of them.
GATEWAY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/:@+]*")
GATEWAY_NAME_RULE = (
    "A gateway name is up to 200 ASCII letters, digits and . _ - / : @ +, starting with a "
    "letter or digit"
)


def validate_gateway_name(name: str) -> None:
    """A non-empty gateway name fits GATEWAY_NAME_RULE (empty means the model id)."""
    if name and (len(name) > GATEWAY_NAME_MAX or not GATEWAY_NAME.fullmatch(name)):
        raise ValidationError(f"{GATEWAY_NAME_RULE}, e.g. deepseek-chat.", code="gateway_name")


def validate_api_key(key: str) -> None:
    if any(ch.isspace() for ch in key):
        raise ValidationError("An API key has no spaces or line breaks inside it.")


@dataclass(frozen=True)
class Number:
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False

    def problem(self, value: Any) -> str:
        kind = "an integer" if self.integer else "a number"
        expected = int if self.integer else (int, float)
        # bool is an int to Python, but `true` for a temperature is a mistake.
        if isinstance(value, bool) or not isinstance(value, expected):
            return f"must be {kind}{self._range()}, not {_json_type(value)}"
        if not math.isfinite(value):  # NaN passes every comparison below
            return f"must be {kind}{self._range()}, not {value}"
        too_low = self.minimum is not None and value < self.minimum
        too_high = self.maximum is not None and value > self.maximum
        return f"must be {kind}{self._range()}" if too_low or too_high else ""

    def _range(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f" between {self.minimum:g} and {self.maximum:g}"
        if self.minimum is not None:
            return f" of at least {self.minimum:g}"
        return ""


@dataclass(frozen=True)
class Text:
    max_length: int

    def problem(self, value: Any) -> str:
        if not isinstance(value, str):
            return f"must be a string, not {_json_type(value)}"
        if len(value) > self.max_length:
            return f"must be at most {self.max_length} characters long"
        return ""


@dataclass(frozen=True)
class TextList:
    max_items: int
    max_length: int

    def problem(self, value: Any) -> str:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"must be a list of strings, not {_json_type(value)}"
        if len(value) > self.max_items:
            return f"must have at most {self.max_items} entries"
        if any(not v or len(v) > self.max_length for v in value):
            return f"entries must be 1 to {self.max_length} characters long"
        return ""


@dataclass(frozen=True)
class Headers:
    def problem(self, value: Any) -> str:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return 'must be an object of header names to string values, e.g. {"X-Team": "ml"}'
        if any(not k or any(ch.isspace() or ch == ":" for ch in k) for k in value):
            return "header names must be non-empty, without spaces or colons"
        if any("\n" in v or "\r" in v for v in value.values()):
            return "header values must be on one line"
        return ""


@dataclass(frozen=True)
class Flag:
    def problem(self, value: Any) -> str:
        return "" if isinstance(value, bool) else f"must be true or false, not {_json_type(value)}"


@dataclass(frozen=True)
class KeyVariable:
    """The environment variable an export names for a provider's key: one an import of
    that export may read (providers/keys/variables.py)."""

    def problem(self, value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", value):
            return "must be an environment variable name such as TEAM_OPENAI_API_KEY"
        return variables.refusal_here(value)


Rule = Number | Text | TextList | Headers | Flag | KeyVariable

# Sampling settings both protocols know; ranges from the OpenAI chat completions reference.
MODEL_SETTINGS: dict[str, Rule] = {
    "temperature": Number(0, 2),
    "top_p": Number(0, 1),
    "max_tokens": Number(1, integer=True),
    "presence_penalty": Number(-2, 2),
    "frequency_penalty": Number(-2, 2),
    "stop": TextList(max_items=4, max_length=100),
    "system_prompt": Text(max_length=20_000),
    # How much conversation (in tokens, estimated) goes with each message; older turns
    # are left out beyond it. Not sent upstream.
    "context_tokens": Number(256, integer=True),
    # The longest answer kept, in characters (settings.ANSWER_MAX_CHARS unless set); the
    # stream ends with an error past it. Not sent upstream.
    "max_answer_chars": Number(1000, 10_000_000, integer=True),
}

# Anthropic's current Messages API takes none of these (anthropic SDK 2.x has no such
# arguments); refusing them on Anthropic models beats ignoring them silently.
NOT_ON_ANTHROPIC = frozenset({"temperature", "top_p", "presence_penalty", "frequency_penalty"})

PROVIDER_SETTINGS: dict[str, Rule] = {
    "connect_timeout": Number(0.5, 60),
    "read_timeout": Number(1, 600),
    "extra_headers": Headers(),
    "auto_enable_new_models": Flag(),  # models found by "Fetch models" arrive enabled
    "api_key_env": KeyVariable(),  # the ${NAME} an export writes for the key
}


def settings_problems(value: Any, rules: Mapping[str, Rule]) -> list[tuple[str, str]]:
    """(key, problem) for each bad entry; key "" when the value is not an object at all."""
    if not isinstance(value, dict):
        return [("", f'must be a JSON object such as {{"{next(iter(rules))}": …}}')]
    known = ", ".join(sorted(rules))
    problems = []
    for key, item in value.items():
        rule = rules.get(key)
        problem = f"is not a known setting (known: {known})" if rule is None else rule.problem(item)
        if problem:
            problems.append((key, problem))
    return problems


def validate_settings(value: Any, rules: Mapping[str, Rule]) -> None:
    problems = settings_problems(value, rules)
    if problems:
        raise ValidationError(
            [f"{key}: {problem}" if key else f"Settings {problem}." for key, problem in problems]
        )


def _json_type(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    names = {bool: "true/false", int: "a number", str: "a string"}
    names |= {list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)
