"""How reliably and how fast each model and provider answers, from the usage records of
the last hour and the last 24 hours.

A try counts for or against its provider as usage.models.verdict() says. The
latency percentiles are those of the answered tries: a failure that returns at once would
make a failing model look fast. The status reads the last hour when it holds at least
MIN_TRIES tries, else the last 24 hours: failing below 50 % success, degraded below
90 %, healthy above; no traffic without a try in 24 hours.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from providers import health
from providers.health import DEGRADED, FAILING, HEALTHY, NO_TRAFFIC, Health
from usage.models import UsageRecord, verdict

MIN_TRIES = 5
FAILING_BELOW = 0.5
DEGRADED_BELOW = 0.9


@dataclass(frozen=True)
class Figures:
    """One window's figures for one model or provider; times in ms, None without data."""

    tries: int = 0
    succeeded: int = 0
    ttft_p50: int | None = None
    ttft_p95: int | None = None
    latency_p50: int | None = None
    latency_p95: int | None = None

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.tries if self.tries else None

    def describe(self) -> str:
        if not self.tries:
            return "no tries"
        text = f"{self.success_rate:.0%} of {self.tries} tries answered"
        if self.ttft_p50 is not None:
            text += f", first token p50 {self.ttft_p50} ms / p95 {self.ttft_p95} ms"
        if self.latency_p50 is not None:
            text += f", total p50 {self.latency_p50} ms / p95 {self.latency_p95} ms"
        return text


@dataclass(frozen=True)
class Report:
    hour: Figures
    day: Figures

    @property
    def health(self) -> Health:
        if self.hour.tries >= MIN_TRIES:
            window, name = self.hour, "last hour"
        else:
            window, name = self.day, "last 24 h"
        rate = window.success_rate
        if rate is None:
            return Health(NO_TRAFFIC, "no tries in the last 24 h")
        status = FAILING if rate < FAILING_BELOW else DEGRADED if rate < DEGRADED_BELOW else HEALTHY
        return Health(
            status, f"{name}: {window.describe()}", self.hour.describe(), self.day.describe()
        )


def reports(by: str, pks: Collection[int]) -> dict[int, Report]:
    """`by` is "llm_model" or "provider": each pk's report, from one query over the last
    24 hours' records of those pks (the (by, created_at) index)."""
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    rows = UsageRecord.objects.filter(
        **{f"{by}__in": list(pks)}, created_at__gte=now - timedelta(days=1)
    ).values_list(f"{by}_id", "created_at", "outcome", "key_kind", "ttft_ms", "latency_ms")
    day: dict[int, list[_Try]] = defaultdict(list)
    for pk, at, outcome, key_kind, ttft, latency in rows:
        judged = verdict(outcome, key_kind, ttft)
        if judged is not None:
            day[pk].append(_Try(at, judged, ttft, latency))
    return {
        pk: Report(_figures([t for t in tries if t.at >= hour_ago]), _figures(tries))
        for pk, tries in day.items()
    }


@dataclass(frozen=True)
class _Try:
    at: datetime
    succeeded: bool
    ttft_ms: int | None
    latency_ms: int


def _figures(tries: list[_Try]) -> Figures:
    if not tries:
        return Figures()
    ttfts = [(t.ttft_ms, 1) for t in tries if t.ttft_ms is not None]
    latencies = [(t.latency_ms, 1) for t in tries if t.succeeded]
    return figures(
        tries=len(tries),
        succeeded=sum(t.succeeded for t in tries),
        ttfts=ttfts,
        latencies=latencies,
    )


def figures(
    *,
    tries: int,
    succeeded: int,
    ttfts: Iterable[tuple[int, int]],
    latencies: Iterable[tuple[int, int]],
) -> Figures:
    """The figures of `tries`, of which `succeeded` answered, from their times as (ms,
    how many took it): the times of every try that got a first token, and the total
    times of those that answered (a failure that returns at once would make a failing
    model look fast)."""
    ttfts, latencies = sorted(ttfts), sorted(latencies)
    return Figures(
        tries=tries,
        succeeded=succeeded,
        ttft_p50=percentile(ttfts, 50),
        ttft_p95=percentile(ttfts, 95),
        latency_p50=percentile(latencies, 50),
        latency_p95=percentile(latencies, 95),
    )


def percentile(counts: list[tuple[int, int]], p: int) -> int | None:
    """Nearest rank over (value, how many) in ascending order: the smallest value with
    at least p % of them at or below it."""
    rank = math.ceil(p / 100 * sum(n for _, n in counts))
    seen = 0
    for value, n in counts:
        seen += n
        if seen >= max(rank, 1):
            return value
    return None


def of_models(pks: Collection[int]) -> Mapping[int, Health]:
    return {pk: report.health for pk, report in reports("llm_model", pks).items()}


def of_providers(pks: Collection[int]) -> Mapping[int, Health]:
    return {pk: report.health for pk, report in reports("provider", pks).items()}


def register() -> None:
    health.register("model", of_models)
    health.register("provider", of_providers)
