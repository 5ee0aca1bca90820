"""Finding one's own chats by their titles and their messages' text.

On PostgreSQL, messages are searched with its full-text search (websearch syntax:
words, "quoted phrases", -left-out; ranked; an excerpt around the words found); when
that finds nothing (a code identifier, part of a word, only stop words) and on SQLite,
a case-insensitive substring match, newest first. Excerpts are (text, matched) parts:
the template escapes them, no HTML is built here."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
)
from django.db import connection
from django.db.models import F, QuerySet

from sessions_app.models import ChatSession, Message, Role

LIMIT = 30
TITLE_LIMIT = 10
MAX_QUERY_CHARS = 200
CONTEXT_CHARS = 60  # around a substring's match
CONFIG = "simple"  # no stemming: chats mix languages, and code
# Marks PostgreSQL puts around the words it found: characters no chat text carries.
_START, _STOP = "\x02", "\x03"


@dataclass(frozen=True)
class Hit:
    session: ChatSession
    message: Message | None  # None: the chat's title matched
    excerpt: tuple[tuple[str, bool], ...]


def search(user: AbstractBaseUser, query: str) -> list[Hit]:
    query = " ".join(query.split())[:MAX_QUERY_CHARS]
    if not query:
        return []
    titles = ChatSession.objects.filter(owner=user, title__icontains=query)[:TITLE_LIMIT]
    hits = [Hit(s, None, _cut(s.title, query)) for s in titles]
    messages = Message.objects.filter(
        session__owner=user, role__in=[Role.USER, Role.ASSISTANT]
    ).select_related("session")
    found = _full_text(messages, query) if connection.vendor == "postgresql" else []
    return hits + (found or _substring(messages, query))


def _full_text(messages: QuerySet[Message], query: str) -> list[Hit]:
    words = SearchQuery(query, search_type="websearch", config=CONFIG)
    matched = (
        messages.annotate(document=SearchVector("content", config=CONFIG))
        .filter(document=words)
        .annotate(
            rank=SearchRank(F("document"), words),
            headline=SearchHeadline(
                "content",
                words,
                config=CONFIG,
                start_sel=_START,
                stop_sel=_STOP,
                max_words=24,
                min_words=12,
            ),
        )
        .order_by("-rank", "-created_at")[:LIMIT]
    )
    return [Hit(m.session, m, _marked(m.headline)) for m in matched]


def _substring(messages: QuerySet[Message], query: str) -> list[Hit]:
    matched = messages.filter(content__icontains=query).order_by("-created_at")[:LIMIT]
    return [Hit(m.session, m, _cut(m.content, query)) for m in matched]


def _marked(headline: str) -> tuple[tuple[str, bool], ...]:
    parts: list[tuple[str, bool]] = []
    for piece in headline.split(_START):
        found, _, rest = piece.rpartition(_STOP) if _STOP in piece else ("", "", piece)
        parts += [(found, True), (rest, False)]
    return tuple((_squeezed(text), marked) for text, marked in parts if text)


def _cut(text: str, query: str) -> tuple[tuple[str, bool], ...]:
    """`text` around the first place `query` is, the place marked."""
    at = text.lower().find(query.lower())
    if at < 0:  # matched by the database's case folding, not Python's
        return ((_squeezed(text[: 2 * CONTEXT_CHARS]), False),)
    start, end = max(0, at - CONTEXT_CHARS), at + len(query)
    before = ("…" if start else "") + _squeezed(text[start:at]).lstrip()
    after = _squeezed(text[end : end + CONTEXT_CHARS]).rstrip()
    after += "…" if end + CONTEXT_CHARS < len(text) else ""
    parts = ((before, False), (text[at:end], True), (after, False))
    return tuple(part for part in parts if part[0])


def _squeezed(text: str) -> str:
    """Runs of white space as one space, kept at the ends: a part meets the next there."""
    return re.sub(r"\s+", " ", text)
