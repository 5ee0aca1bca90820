"""Formatting for chat templates."""

from __future__ import annotations

from uuid import UUID

from django import template
from django.template import Context
from django.urls import reverse
from django.utils import timezone

from sessions_app.attempts import described
from sessions_app.models import Message, Status
from usage.models import Outcome
from usage.money import format_money

register = template.Library()

# Stand-ins reversed in place of the real ids; never a uuid4, whose version bits differ.
_SESSION = str(UUID(int=1))
_ANSWER = str(UUID(int=2))


@register.simple_tag(takes_context=True)
def answer_url(context: Context, name: str, message: Message) -> str:
    """The URL sessions_app:<name> of one answer, reversed once per page and name.

    A 500-message chat asks for 500 of these URLs of two patterns, and {% url %} for each
    was 15 ms of its page: each pattern is reversed with stand-in ids, once, and the real
    ones put in."""
    # dicts[0]: the whole page's, as {% include %} keeps its templates; every included
    # template gets a render context of its own above it.
    patterns = context.render_context.dicts[0].setdefault(answer_url, {})
    if name not in patterns:
        patterns[name] = reverse(f"sessions_app:{name}", args=[_SESSION, _ANSWER])
    return (
        patterns[name]
        .replace(_SESSION, str(message.session.public_id))
        .replace(_ANSWER, str(message.public_id))
    )


@register.filter
def stats(message: Message) -> str:
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


@register.filter
def waited(message: Message) -> int:
    """Whole seconds since the answer was asked for; the page counts on from there."""
    return int((timezone.now() - message.created_at).total_seconds())


@register.filter
def chain(message: Message) -> str:
    """The attempt chain in a sentence: "answered by Claude Sonnet after GPT-4o timed out"."""
    entries = message.attempts
    tried = [entry for entry in entries if entry["outcome"] != "skipped"]
    if message.status == Status.ERROR and not message.content:
        return f"{len(tried)} tries, none answered"
    return f"answered by {tried[-1]['model']} {described(entries)}"


@register.filter
def outcome_label(entry: dict) -> str:
    outcome = entry.get("outcome", "")
    if outcome == "skipped":
        return "skipped"
    return str(Outcome(outcome).label) if outcome in Outcome.values else outcome
