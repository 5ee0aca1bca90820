"""Usage records: one per upstream attempt, written with the answer's end.

The chat hands over plain values (Attempt), never its own objects. The cost is computed
here, from the model's prices as they are now, and kept on the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from providers.models import LLMModel
from providers.runners import base
from usage.models import (
    ANSWERED,
    KeyKind,
    LatencyDay,
    Measure,
    Outcome,
    UsageDay,
    UsageRecord,
    latency_bucket,
    verdict,
)

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Prices:
    """Per million tokens; None where the model has no price."""

    input: Decimal | None = None
    cached_input: Decimal | None = None
    output: Decimal | None = None

    @classmethod
    def of(cls, model: LLMModel) -> Prices:
        return cls(model.input_price, model.cached_input_price, model.output_price)

    def cost(self, *, input_tokens: int, cached_tokens: int, output_tokens: int) -> Decimal | None:
        """None when the model has no price at all; a missing cached-input price is the
        input price (what providers without a cache charge)."""
        if self.input is None and self.output is None:
            return None
        cached = min(cached_tokens, input_tokens)
        cached_price = self.cached_input if self.cached_input is not None else self.input
        total = (
            (input_tokens - cached) * (self.input or 0)
            + cached * (cached_price or 0)
            + output_tokens * (self.output or 0)
        )
        return Decimal(total) / MILLION


@dataclass(frozen=True)
class Attempt:
    """One call upstream for one answer, as the chat saw it."""

    started_at: datetime
    user_id: int
    username: str
    tier_id: int | None
    tier_name: str
    session_id: UUID
    message_id: UUID
    number: int
    provider_id: int | None
    provider_name: str
    model_pk: int | None
    model_id: str
    personal_key: bool
    prices: Prices
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    tokens_estimated: bool
    ttft_ms: int | None
    latency_ms: int
    outcome: str

    @property
    def cost(self) -> Decimal | None:
        return self.prices.cost(
            input_tokens=self.input_tokens,
            cached_tokens=self.cached_tokens,
            output_tokens=self.output_tokens,
        )


def record(attempts: list[Attempt]) -> list[UsageRecord]:
    """One record per attempt, in one INSERT, each added to its day's rollups (UsageDay,
    LatencyDay). Called inside a transaction (the answer's end), so they never disagree."""
    records = UsageRecord.objects.bulk_create(
        UsageRecord(
            created_at=a.started_at,
            user_id=a.user_id,
            username=a.username,
            tier_id=a.tier_id,
            tier_name=a.tier_name,
            session_id=a.session_id,
            message_id=a.message_id,
            attempt=a.number,
            provider_id=a.provider_id,
            provider_name=a.provider_name,
            llm_model_id=a.model_pk,
            model_id=a.model_id,
            key_kind=KeyKind.PERSONAL if a.personal_key else KeyKind.TEAM,
            input_tokens=a.input_tokens,
            output_tokens=a.output_tokens,
            cached_tokens=a.cached_tokens,
            tokens_estimated=a.tokens_estimated,
            ttft_ms=a.ttft_ms,
            latency_ms=a.latency_ms,
            outcome=a.outcome,
            cost=a.cost,
            currency=settings.USAGE_CURRENCY,
        )
        for a in attempts
    )
    for each in records:
        _add_to_day(each)
    return records


def _add_to_day(record: UsageRecord) -> None:
    """Add `record` to its day's totals and, where verdict() counts it, to its model's
    latency histogram of the day."""
    day = timezone.localdate(record.created_at)
    model = {"provider_name": record.provider_name, "model_id": record.model_id}
    judged = verdict(record.outcome, record.key_kind, record.ttft_ms)
    _add(
        UsageDay,
        {
            "day": day,
            "username": record.username,
            "tier_name": record.tier_name,
            **model,
            "key_kind": record.key_kind,
        },
        {
            "tries": 1,
            "answered": int(record.outcome in ANSWERED),
            "succeeded": int(judged is True),
            "failed": int(judged is False),
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "cached_tokens": record.cached_tokens,
            "cost": record.cost or Decimal(0),
        },
        user_id=record.user_id,
    )
    if judged is None:
        return
    buckets = []
    if record.ttft_ms is not None:
        buckets.append((Measure.TTFT, latency_bucket(record.ttft_ms)))
    if judged:
        buckets.append((Measure.TOTAL, latency_bucket(record.latency_ms)))
    if buckets:
        _count_latencies(day, record.provider_name, record.model_id, buckets)


def _count_latencies(day: date, provider_name: str, model_id: str, buckets: list) -> None:
    """Count a try in its buckets, in one statement: INSERT … ON CONFLICT DO UPDATE, which
    SQLite and PostgreSQL spell alike, adds each row or counts it up, whichever worker
    comes first (an UPDATE then an INSERT, as _add does, was 0.6 ms more an answer)."""
    table = connection.ops.quote_name(LatencyDay._meta.db_table)
    rows = ", ".join(["(%s, %s, %s, %s, %s, 1)"] * len(buckets))
    params = [v for measure, ms in buckets for v in (day, provider_name, model_id, measure, ms)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, provider_name, model_id, measure, ms, tries) "  # noqa: S608 - our table's name; the values are parameters
            f"VALUES {rows} ON CONFLICT (day, provider_name, model_id, measure, ms) "
            f"DO UPDATE SET tries = {table}.tries + 1",
            params,
        )


def _add(rollup: type[UsageDay], group: dict, added: dict, **extra: object) -> None:
    """Add `added` to the rollup's row of `group`: an UPDATE of the row, or, on the
    group's first record, an INSERT; one that loses the race to insert it (another
    worker) updates it."""
    increments = {name: F(name) + value for name, value in added.items()}
    if rollup.objects.filter(**group).update(**increments):
        return
    try:
        with transaction.atomic():  # a savepoint: the answer's transaction goes on
            rollup.objects.create(**group, **added, **extra)
    except IntegrityError:
        rollup.objects.filter(**group).update(**increments)


# Most specific first: an UnreachableError is an UnavailableError too.
_OUTCOMES: tuple[tuple[type[Exception], str], ...] = (
    (base.UpstreamTimeoutError, Outcome.TIMEOUT),
    (base.RateLimitError, Outcome.RATE_LIMITED),
    (base.UnavailableError, Outcome.UNAVAILABLE),
    (base.AuthError, Outcome.BAD_KEY),
    (base.BadRequestError, Outcome.REFUSED),
    (base.MalformedResponseError, Outcome.MALFORMED),
)


def outcome_of(error: BaseException) -> str:
    for kind, outcome in _OUTCOMES:
        if isinstance(error, kind):
            return outcome
    return Outcome.FAILED
