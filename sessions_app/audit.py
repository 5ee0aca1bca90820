"""An answer's audit in words: its numbers and the models tried for it, for its page and
its chat's export alike."""

from __future__ import annotations

from sessions_app.attempts import described
from sessions_app.models import Message, Status
from usage.money import format_money


def numbers(message: Message) -> str:
    """An ended answer's numbers, each labelled: "first token 320 ms · total 900 ms ·
    tokens 12 in / 120 out · 0.0012 USD". In Python, not the template: there, its
    conditions and localized numbers were a fifth of a long chat's rendering."""
    parts = [] if message.ttft_ms is None else [f"first token {message.ttft_ms} ms"]
    parts.append(f"total {message.latency_ms} ms")
    if message.output_tokens is not None:
        tokens_in = "?" if message.input_tokens is None else message.input_tokens
        parts.append(f"tokens {tokens_in} in / {message.output_tokens} out")
    if message.cost is not None:
        parts.append(format_money(message.cost))
    return " · ".join(parts)


def chain(message: Message) -> str:
    """The attempt chain in a sentence: "answered by Claude Sonnet after GPT-4o timed out"."""
    entries = message.attempts
    tried = [entry for entry in entries if entry["outcome"] != "skipped"]
    if message.status == Status.ERROR and not message.content:
        return f"{len(tried)} tries, none answered"
    return f"answered by {tried[-1]['model']} {described(entries)}"
