"""Formatting for chat templates."""

from __future__ import annotations

from uuid import UUID

from django import template
from django.template import Context
from django.urls import reverse
from django.utils import timezone

from sessions_app import audit
from sessions_app.models import Message
from usage.models import Outcome

register = template.Library()
register.filter("stats", audit.numbers)
register.filter("chain", audit.chain)

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
def waited(message: Message) -> int:
    """Whole seconds since the answer was asked for; the page counts on from there."""
    return int((timezone.now() - message.created_at).total_seconds())


@register.filter
def outcome_label(entry: dict) -> str:
    outcome = entry.get("outcome", "")
    if outcome == "skipped":
        return "skipped"
    return str(Outcome(outcome).label) if outcome in Outcome.values else outcome
