"""Usage totals over a date range, grouped by person, model or tier: the figures billing
and scripts read (`manage.py usage_report`), summed in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from usage.models import KeyKind, UsageRecord

EIGHT_PLACES = Decimal("0.00000001")
# What a report may group by: the name it is asked by → the record's snapshot columns.
GROUPS = {
    "user": ("username",),
    "model": ("provider_name", "model_id"),
    "tier": ("tier_name",),
}


@dataclass(frozen=True)
class Row:
    name: str
    tries: int
    input_tokens: int
    output_tokens: int
    team_cost: Decimal  # what the team pays
    personal_cost: Decimal  # answers on the person's own keys: counted apart


def totals(since: date, until: date, by: str) -> list[Row]:
    """Every record from the start of `since` to the end of `until` (TIME_ZONE's days)."""
    columns = GROUPS[by]
    start = timezone.make_aware(datetime.combine(since, time()))
    end = timezone.make_aware(datetime.combine(until + timedelta(days=1), time()))
    rows = (
        UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end)
        .values(*columns)
        .annotate(
            tries=Count("id"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            team_cost=Sum("cost", filter=Q(key_kind=KeyKind.TEAM), default=Decimal(0)),
            personal_cost=Sum("cost", filter=Q(key_kind=KeyKind.PERSONAL), default=Decimal(0)),
        )
        .order_by(*columns)
    )
    return [
        Row(
            name="/".join(row[column] for column in columns) or "(no tier)",
            tries=row["tries"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            team_cost=_exact(row["team_cost"]),
            personal_cost=_exact(row["personal_cost"]),
        )
        for row in rows
    ]


def _exact(amount: Decimal) -> Decimal:
    """To the records' eight places, however the database hands a sum back (SQLite drops
    the trailing zeros)."""
    return Decimal(amount).quantize(EIGHT_PLACES)
