"""A chat as a file: Markdown to read (the branch shown, each answer with its audit
line), JSON to keep (every message of every branch, with the full audit: model,
provider, tokens, timings, cost, the models tried)."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.text import slugify

from sessions_app import audit
from sessions_app.models import ChatSession, Message, Role

FORMAT_VERSION = 1


def filename(session: ChatSession, extension: str) -> str:
    return f"{slugify(str(session))[:60] or 'chat'}-{session.public_id.hex[:8]}.{extension}"


def as_markdown(session: ChatSession) -> str:
    lines = [f"# {session}", "", f"Exported from Switchboard on {_now()}."]
    if session.system_prompt:
        lines += ["", "System prompt of this chat:", "", _quoted(session.system_prompt)]
    for message in session.messages_to_show():
        lines += ["", *_heading(message), "", message.content or "*(no text)*"]
        if message.error:
            lines += ["", f"> {message.get_status_display()}: {message.error}"]
    lines += ["", "---", "", "Other versions of the answers and questions are in the JSON export."]
    return "\n".join(lines) + "\n"


def as_json(session: ChatSession) -> str:
    shown = [m.public_id for m in session.messages_to_show()]
    document = {
        "format": "switchboard-chat",
        "version": FORMAT_VERSION,
        "exported_at": timezone.now(),
        "id": session.public_id,
        "title": str(session),
        "system_prompt": session.system_prompt,
        "created_at": session.created_at,
        "shown": shown,
        "messages": [_entry(m) for m in session.messages.select_related("parent")],
    }
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2) + "\n"


def _heading(message: Message) -> list[str]:
    if message.role == Role.USER:
        return ["## You"]
    who = message.model_display_name or message.model_id
    facts = [f"model `{message.model_id}`", f"provider {message.provider_name}"]
    if message.latency_ms is not None:
        facts.append(audit.numbers(message))
    if message.attempts:
        facts.append(audit.chain(message))
    if message.used_personal_key:
        facts.append("own key")
    if message.system_prompt:
        facts.append("with the chat's system prompt")
    return [f"## {who}", "", f"*{' · '.join(facts)}*"]


def _entry(message: Message) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": message.public_id,
        "parent": message.parent.public_id if message.parent else None,
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "created_at": message.created_at,
    }
    if message.role == Role.ASSISTANT:
        entry |= {
            "model_id": message.model_id,
            "model": message.model_display_name,
            "provider": message.provider_name,
            "used_personal_key": message.used_personal_key,
            "system_prompt": message.system_prompt,
            "input_tokens": message.input_tokens,
            "output_tokens": message.output_tokens,
            "cached_tokens": message.cached_tokens,
            "ttft_ms": message.ttft_ms,
            "latency_ms": message.latency_ms,
            "cost": message.cost,
            "error": message.error,
            "turns_left_out": message.turns_left_out,
            "attempts": message.attempts,
        }
    return entry


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines())


def _now() -> str:
    return timezone.localtime().strftime("%Y-%m-%d %H:%M %Z")


# What each extension is written by, and served as.
FORMATS = {
    "md": (as_markdown, "text/markdown; charset=utf-8"),
    "json": (as_json, "application/json"),
}
