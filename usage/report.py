"""Usage totals over a date range, grouped by person, model or tier: the figures billing
and scripts read (`manage.py usage_report`), summed in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q, Sum

from usage.models import KeyKind, UsageDay

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
    """From `since` to `until`, both included (TIME_ZONE's days), from the daily totals:
    the same figures as the records', and still there once the records are removed."""
    columns = GROUPS[by]
    rows = (
        UsageDay.objects.filter(day__gte=since, day__lte=until)
        .values(*columns)
        .annotate(
            tries=Sum("tries"),
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


def tries_by_model(provider_name: str) -> dict[str, int]:
    """Every try recorded for a provider's models, by model id, from the daily totals."""
    rows = (
        UsageDay.objects.filter(provider_name=provider_name)
        .values("model_id")
        .annotate(tries=Sum("tries"))
        .values_list("model_id", "tries")
    )
    return dict(rows)
