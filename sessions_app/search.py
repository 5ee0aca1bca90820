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
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F, QuerySet

from sessions_app.models import ChatSession, Message, Role

LIMIT = 30
TITLE_LIMIT = 10
MAX_QUERY_CHARS = 200
CONTEXT_CHARS = 60  # around a substring's match
CONFIG = "simple"  # no stemming: chats mix languages, and code


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
    hits = [Hit(s, None, _excerpt(s.title, [query], words=False)) for s in titles]
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
        .annotate(rank=SearchRank(F("document"), words))
        .order_by("-rank", "-created_at")[:LIMIT]
    )
    # The excerpt is cut here, not by ts_headline: that one drops whatever looks like an
    # HTML tag, and a chat about HTML would read wrong.
    terms = _terms(query)
    return [Hit(m.session, m, _excerpt(m.content, terms, words=True)) for m in matched]


def _substring(messages: QuerySet[Message], query: str) -> list[Hit]:
    matched = messages.filter(content__icontains=query).order_by("-created_at")[:LIMIT]
    return [Hit(m.session, m, _excerpt(m.content, [query], words=False)) for m in matched]


def _terms(query: str) -> list[str]:
    """The words a websearch query looks for: quotes dropped, -left-out words and "or"
    left out."""
    words = query.replace('"', " ").split()
    return [w for w in words if not w.startswith("-") and w.lower() != "or"] or [query]


def _excerpt(text: str, terms: list[str], *, words: bool) -> tuple[tuple[str, bool], ...]:
    """`text` around the first place one of `terms` is, each of them marked there; as
    whole words when `words` (full-text search matched words)."""
    pattern = re.compile(
        "|".join(_alternative(t, words) for t in sorted(terms, key=len, reverse=True)), re.I
    )
    first = pattern.search(text)
    at = first.start() if first else 0
    start = max(0, at - CONTEXT_CHARS)
    end = (first.end() if first else at) + CONTEXT_CHARS
    window = text[start:end]
    parts: list[tuple[str, bool]] = []
    cursor = 0
    for match in pattern.finditer(window):
        parts += [(window[cursor : match.start()], False), (match.group(), True)]
        cursor = match.end()
    parts.append((window[cursor:], False))
    if start:
        parts.insert(0, ("…", False))
    if end < len(text):
        parts.append(("…", False))
    squeezed = [(_squeezed(part), marked) for part, marked in parts if part]
    return tuple(_trimmed(squeezed))


def _alternative(term: str, words: bool) -> str:
    escaped = re.escape(term)
    if not words:
        return escaped
    # A word's edge only where the term has one: "connect_db(" ends in no word.
    before = r"\b" if re.match(r"\w", term) else ""
    after = r"\b" if re.search(r"\w$", term) else ""
    return f"{before}{escaped}{after}"


def _trimmed(parts: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """No white space at the excerpt's ends."""
    if parts:
        parts[0] = (parts[0][0].lstrip(), parts[0][1])
        parts[-1] = (parts[-1][0].rstrip(), parts[-1][1])
    return [part for part in parts if part[0]]


def _squeezed(text: str) -> str:
    """Runs of white space as one space, kept at the ends: a part meets the next there."""
    return re.sub(r"\s+", " ", text)
