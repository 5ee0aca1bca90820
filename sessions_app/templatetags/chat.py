"""Formatting for chat templates."""

from __future__ import annotations

import hashlib
from uuid import UUID

from django import template
from django.core.cache import caches
from django.template import Context
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

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


MESSAGE_TEMPLATE = "sessions_app/partials/message.html"
FRAGMENT_SECONDS = 24 * 3600


@register.simple_tag(takes_context=True)
def conversation(context: Context, messages: list[Message]) -> SafeString:
    """The branch's messages, each as message.html renders it; a finished one rendered
    once per worker and then taken from the "fragments" cache.

    A 500-message chat spent most of its page in the template engine, 500 times over the
    same partial. A finished message never changes (every write to one needs it open)
    but for its HTML when the renderer changes, its versions when another is added, and
    the CSRF token in its versions' form, which follows the person's CSRF secret: the
    key holds all of them."""
    template = context.template.engine.get_template(MESSAGE_TEMPLATE)
    request = context.get("request")
    # No secret yet: this render makes one, which the next request's key will hold.
    secret = request.META.get("CSRF_COOKIE", "") if request else ""
    person = hashlib.sha256(secret.encode()).hexdigest()[:16]
    keys = {
        message.pk: _fragment_key(message, person)
        for message in messages
        if secret and not message.is_open and message.pk != context.get("editing")
    }
    fragments = caches["fragments"]
    found = fragments.get_many(keys.values())
    parts, rendered = [], {}
    for message in messages:
        key = keys.get(message.pk)
        if (html := found.get(key)) is None:
            with context.push(message=message):
                html = template.render(context)
            if key:
                rendered[key] = html
        parts.append(html)
    fragments.set_many(rendered, FRAGMENT_SECONDS)
    return mark_safe("".join(parts))  # noqa: S308 - each part is the template's own output


def _fragment_key(message: Message, person: str) -> str:
    versions = getattr(message, "versions", None)
    shown = f"{versions.position}/{versions.count}" if versions else "-"
    renderer = message.content_html_renderer
    return f"message:{message.pk}:{message.status}:{renderer}:{shown}:{person}"
