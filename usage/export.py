"""The records of a scope as CSV, streamed: a chunk of rows read, written and sent at a
time, so a year of records never sits in memory."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from usage.models import UsageRecord
from usage.scope import Scope

COLUMNS = (
    "created_at",
    "username",
    "tier_name",
    "provider_name",
    "model_id",
    "key_kind",
    "attempt",
    "outcome",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "tokens_estimated",
    "ttft_ms",
    "latency_ms",
    "cost",
    "currency",
    "session_id",
    "message_id",
)
CHUNK = 2000
# A cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV
# Injection"): a username or model id such as =HYPERLINK(…) is written as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def filename(scope: Scope) -> str:
    return f"usage-{scope.since}-{scope.until}.csv"


async def rows(scope: Scope) -> AsyncIterator[str]:
    records = (
        UsageRecord.objects.filter(scope.of_records())
        .order_by("created_at", "id")
        # values(), not values_list(): the latter's iterator runs its query as it is
        # made, on the event loop, where aiterator() makes it (Django 5.2).
        .values(*COLUMNS)
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    written = 0
    async for record in records.aiterator(chunk_size=CHUNK):
        writer.writerow([_cell(record[column]) for column in COLUMNS])
        written += 1
        if written % CHUNK == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _cell(value: object) -> object:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
