"""The usage dashboard with a year of a busy team: 1,000,000 usage records.

Records are made over the last 365 days for 40 people in 4 tiers, on 12 models of 3
providers, with the outcomes, tokens and times of a real mix, and the rollups the
dashboard reads (UsageDay, LatencyDay) summed from them with the rules the recording
uses (usage.models.verdict, latency_bucket); tests/test_dashboard.py proves that the
recording writes the same. Then, in rounds, side by side, each page is asked through
Django's test client, in this process (middleware, view, queries, charts, template):

- the staff's default view (the last 30 days, everyone), the one the target is for;
- the floor: the same page narrowed to a provider with no usage (its fixed cost);
- a person's own default view, and the staff's view of the whole year;
- the peer: Django admin's changelist of the same records (its first page).
- from the records: the one query that the tokens chart would need without rollups.

    .venv/bin/python bench/usage_dashboard.py                 # SQLite, throwaway
    DATABASE_URL=postgres://… .venv/bin/python bench/usage_dashboard.py
    .venv/bin/python bench/usage_dashboard.py --records 100000 --rounds 5
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import app  # noqa: E402

if TYPE_CHECKING:
    from django.http import HttpResponse

USERS = 40
TIERS = ("Members", "Research", "Support", "Interns")
MODELS = [
    (provider, model, Decimal(price))
    for provider, models in {
        "OpenAI": [("gpt-4o", "5"), ("gpt-4o-mini", "0.3"), ("o3", "8"), ("gpt-4.1", "4")],
        "Anthropic": [("claude-sonnet", "6"), ("claude-haiku", "1"), ("claude-opus", "30")],
        "Groq": [("llama-70b", "0.7"), ("llama-8b", "0.1"), ("qwen-32b", "0.4")],
    }.items()
    for model, price in models
] + [("OpenRouter", "deepseek-r1", Decimal("1.5")), ("OpenRouter", "glm-4.6", Decimal("1"))]
OUTCOMES = (
    ["ok"] * 930
    + ["stopped"] * 20
    + ["timeout"] * 20
    + ["rate_limited"] * 15
    + ["unavailable"] * 10
    + ["failed"] * 5
)
BATCH = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15, help="timed asks of each page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as workdir:
        env = app.environment(Path(workdir)) | {"ALLOWED_HOSTS": "testserver"}
        app.prepare(env)
        app.orm(env)
        from django.db import connection

        started = time.perf_counter()
        seed(args.records)
        print(
            f"{connection.vendor}: seeded {args.records:,} records in "
            f"{time.perf_counter() - started:.0f} s; {rollup_rows()}",
            flush=True,
        )
        print(table(measure(args.rounds)))


def seed(records: int) -> None:
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from providers.models import Tier
    from usage.models import LatencyDay, Measure, UsageDay, UsageRecord, latency_bucket, verdict

    rng = random.Random(13)  # noqa: S311 - made-up data, the same every run
    app.seed_users([f"user{n:02d}" for n in range(USERS)])
    app.seed_users(["bench-staff"], staff=True)
    users = list(User.objects.filter(username__startswith="user").order_by("username"))
    for n, name in enumerate(TIERS):
        group = Group.objects.create(name=name)
        Tier.objects.create(
            name=name, group=group, daily_token_quota=200_000 * (n + 1), is_default=n == 0
        )
        group.user_set.add(*users[n::4])
    now = timezone.now()
    days: dict[tuple, Counter] = {}
    buckets: Counter = Counter()
    # A busier model is asked more: the first models of the list most.
    weights = [1 / (n + 1) for n in range(len(MODELS))]
    for start in range(0, records, BATCH):
        batch = []
        for _ in range(min(BATCH, records - start)):
            user_n = rng.randrange(USERS)
            provider, model, price = rng.choices(MODELS, weights)[0]
            outcome = rng.choice(OUTCOMES)
            personal = rng.random() < 0.05
            answered = outcome in ("ok", "stopped")
            ttft = int(rng.lognormvariate(6, 0.5)) if answered else None
            latency = ttft + int(rng.lognormvariate(8, 0.6)) if ttft else rng.randrange(50, 60_000)
            inputs, outputs = rng.randrange(200, 8_000), rng.randrange(0, 2_000) * answered
            cost = Decimal(inputs + outputs) * price / 1_000_000
            batch.append(
                UsageRecord(
                    created_at=now - timedelta(seconds=rng.randrange(365 * 86_400)),
                    user=users[user_n],
                    username=users[user_n].username,
                    tier_name=TIERS[user_n % 4],
                    provider_name=provider,
                    model_id=model,
                    key_kind="personal" if personal else "team",
                    input_tokens=inputs,
                    output_tokens=outputs,
                    ttft_ms=ttft,
                    latency_ms=latency,
                    outcome=outcome,
                    cost=cost,
                    currency="USD",
                )
            )
        UsageRecord.objects.bulk_create(batch, batch_size=2_000)
        for r in batch:
            day = timezone.localdate(r.created_at)
            judged = verdict(r.outcome, r.key_kind, r.ttft_ms)
            key = (day, r.user_id, r.username, r.tier_name, r.provider_name, r.model_id, r.key_kind)
            totals = days.setdefault(key, Counter())
            totals.update(
                tries=1,
                answered=int(r.outcome in ("ok", "stopped")),
                succeeded=int(judged is True),
                failed=int(judged is False),
                input_tokens=r.input_tokens,
                output_tokens=r.output_tokens,
            )
            totals["cost"] += r.cost
            if judged is not None and r.ttft_ms is not None:
                buckets[
                    day, r.provider_name, r.model_id, Measure.TTFT, latency_bucket(r.ttft_ms)
                ] += 1
            if judged:
                buckets[
                    day, r.provider_name, r.model_id, Measure.TOTAL, latency_bucket(r.latency_ms)
                ] += 1
    names = ("day", "user_id", "username", "tier_name", "provider_name", "model_id", "key_kind")
    UsageDay.objects.bulk_create(
        (UsageDay(**dict(zip(names, key, strict=True)), **totals) for key, totals in days.items()),
        batch_size=2_000,
    )
    fields = ("day", "provider_name", "model_id", "measure", "ms")
    LatencyDay.objects.bulk_create(
        (LatencyDay(**dict(zip(fields, key, strict=True)), tries=n) for key, n in buckets.items()),
        batch_size=2_000,
    )
    _analyze()


def _analyze() -> None:
    """Fresh statistics for the planner, as autovacuum or a long-running SQLite would have."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def rollup_rows() -> str:
    from usage.models import LatencyDay, UsageDay

    days, latencies = UsageDay.objects.count(), LatencyDay.objects.count()
    return f"{days:,} UsageDay rows, {latencies:,} LatencyDay rows"


def measure(rounds: int) -> dict[str, list[float]]:
    from django.contrib.auth.models import User
    from django.db.models import F, Sum
    from django.db.models.functions import TruncDate
    from django.test import Client
    from django.utils import timezone

    from usage.models import UsageRecord

    staff, person = Client(), Client()
    staff.force_login(User.objects.get(username="bench-staff"))
    person.force_login(User.objects.get(username="user00"))
    today = timezone.localdate()
    year = {"since": str(today - timedelta(days=364)), "until": str(today)}

    def from_records() -> None:
        month_ago = timezone.now() - timedelta(days=30)
        rows = (
            UsageRecord.objects.filter(created_at__gte=month_ago)
            .annotate(day=TruncDate("created_at"))
            .values("day", "provider_name", "model_id")
            .annotate(tokens=Sum(F("input_tokens") + F("output_tokens")))
        )
        if not list(rows):
            raise RuntimeError("no records in the last 30 days")

    asks = {
        "staff, default view (30 days, everyone)": lambda: _ok(staff.get("/usage/")),
        "floor: the same page, no usage in scope": lambda: _ok(
            staff.get("/usage/", {"provider": "(nobody)"})
        ),
        "a person's own default view": lambda: _ok(person.get("/usage/")),
        "staff, the whole year": lambda: _ok(staff.get("/usage/", year)),
        "peer: Django admin's changelist of the records": lambda: _ok(
            staff.get("/admin/usage/usagerecord/")
        ),
        "from the records: the tokens chart's one query": from_records,
    }
    times: dict[str, list[float]] = {name: [] for name in asks}
    for _ in range(2):  # warm: templates compiled, pages of the database cached
        for ask in asks.values():
            ask()
    for _ in range(rounds):
        for name, ask in asks.items():
            started = time.perf_counter()
            ask()
            times[name].append((time.perf_counter() - started) * 1000)
    return times


def _ok(response: HttpResponse) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"answered {response.status_code}")


def table(times: dict[str, list[float]]) -> str:
    floor = statistics.median(times["floor: the same page, no usage in scope"])
    lines = ["| ask | median | p90 | × floor |", "|---|---:|---:|---:|"]
    for name, values in times.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        lines.append(f"| {name} | {median:.0f} ms | {p90:.0f} ms | {median / floor:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
