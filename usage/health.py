"""How reliably and how fast each model and provider answers, from the usage records of
the last hour and the last 24 hours.

A try succeeded when it answered (ok, cut at the size limit, or stopped by the person
after its first token). It counts neither way when the cause was not the provider's: our
server stopping, our own failure, a request the provider refused as malformed, a
person's own key refused, a Stop before any token. Every other outcome (a timeout, a rate
limit, a 5xx, a malformed stream, the team's key refused) is the provider's failure. The
latency percentiles are those of the answered tries: a failure that returns at once would
make a failing model look fast. The status reads the last hour when it holds at least
MIN_TRIES tries, else the last 24 hours: failing below 50 % success, degraded below
90 %, healthy above; no traffic without a try in 24 hours.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from providers import health
from providers.health import DEGRADED, FAILING, HEALTHY, NO_TRAFFIC, Health
from usage.models import ANSWERED, KeyKind, Outcome, UsageRecord

MIN_TRIES = 5
FAILING_BELOW = 0.5
DEGRADED_BELOW = 0.9
NOT_THEIRS = {Outcome.INTERRUPTED, Outcome.FAILED, Outcome.REFUSED}


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
    rows = (
        UsageRecord.objects.filter(
            **{f"{by}__in": list(pks)}, created_at__gte=now - timedelta(days=1)
        )
        .exclude(outcome__in=NOT_THEIRS)
        .exclude(outcome=Outcome.BAD_KEY, key_kind=KeyKind.PERSONAL)
        .exclude(outcome=Outcome.STOPPED, ttft_ms__isnull=True)
        .values_list(f"{by}_id", "created_at", "outcome", "ttft_ms", "latency_ms")
    )
    day: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        day[row[0]].append(row)
    return {
        pk: Report(_figures([r for r in tries if r[1] >= hour_ago]), _figures(tries))
        for pk, tries in day.items()
    }


def _figures(tries: list[tuple]) -> Figures:
    if not tries:
        return Figures()
    ttfts = sorted(r[3] for r in tries if r[3] is not None)
    latencies = sorted(r[4] for r in tries if r[2] in ANSWERED)
    return Figures(
        tries=len(tries),
        succeeded=sum(r[2] in ANSWERED for r in tries),
        ttft_p50=_percentile(ttfts, 50),
        ttft_p95=_percentile(ttfts, 95),
        latency_p50=_percentile(latencies, 50),
        latency_p95=_percentile(latencies, 95),
    )


def _percentile(values: list[int], p: int) -> int | None:
    """Nearest rank: the smallest value with at least p % of them at or below it."""
    if not values:
        return None
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


def of_models(pks: Collection[int]) -> Mapping[int, Health]:
    return {pk: report.health for pk, report in reports("llm_model", pks).items()}


def of_providers(pks: Collection[int]) -> Mapping[int, Health]:
    return {pk: report.health for pk, report in reports("provider", pks).items()}


def register() -> None:
    health.register("model", of_models)
    health.register("provider", of_providers)
