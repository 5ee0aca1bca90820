"""The usage dashboard's figures, read from the rollups (UsageDay, LatencyDay) and the
quota counters, never from the records: a year of a busy team is a few rows a day.

Tokens, cost and top users follow every filter of the scope. How the models do (success
rate, latency) follows the dates, the provider and the model only: it is the provider's
doing, whoever asked, and the latency histograms know no person.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.formats import date_format

from providers import access
from providers.models import Tier
from usage import quotas
from usage.health import Figures, figures
from usage.models import KeyKind, LatencyDay, Measure, Period, QuotaCounter, UsageDay
from usage.scope import Scope

TOP_MODELS = 8  # the chart's series; the rest are summed as OTHER_MODELS
OTHER_MODELS = "Other models"
TOP_USERS = 10
# A range up to this many days is shown a day a bar, up to a year a week a bar, beyond
# a month a bar: a bar stays wide enough to see.
DAYS_BY_DAY = 62
DAYS_BY_WEEK = 366


@dataclass(frozen=True)
class Totals:
    tries: int = 0
    answered: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    team_cost: Decimal = Decimal(0)  # what the team pays
    personal_cost: Decimal = Decimal(0)  # on people's own keys: theirs, counted apart


@dataclass(frozen=True)
class Periods:
    """Tokens and cost a period (a day, a week or a month) for each of the busiest models."""

    unit: str
    labels: list[str]
    models: list[str]
    tokens: list[list[int]]  # [model][period]
    cost: list[list[Decimal]]

    @property
    def token_rows(self) -> list[tuple[str, tuple[int, ...], int]]:
        """The tables' rows: a period's label, each model's figure, their sum; a period
        of nothing is left out (the chart shows it, as a gap)."""
        return _rows(self.labels, self.tokens)

    @property
    def cost_rows(self) -> list[tuple[str, tuple[Decimal, ...], Decimal]]:
        return _rows(self.labels, self.cost)


def _rows(labels: list[str], series: list[list]) -> list[tuple]:
    if not series:
        return []
    columns = zip(*series, strict=True)
    return [
        (label, column, sum(column))
        for label, column in zip(labels, columns, strict=True)
        if any(column)
    ]


@dataclass(frozen=True)
class ModelRow:
    provider: str
    model: str  # empty on a provider's own row, the figures of all its models
    figures: Figures

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.model}" if self.model else self.provider


@dataclass(frozen=True)
class UserRow:
    username: str
    tries: int
    tokens: int
    team_cost: Decimal
    personal_cost: Decimal


@dataclass(frozen=True)
class TierQuota:
    """How much of a tier's limits its members have used, today and this month (their
    own limits, where an administrator set some, are the admin's Personal quotas)."""

    name: str
    members: int
    daily_tokens: int | None
    tokens_today: int
    at_daily_limit: int
    monthly_cost: Decimal | None
    cost_this_month: Decimal
    at_monthly_budget: int

    @property
    def daily_share(self) -> float | None:
        if not self.daily_tokens or not self.members:
            return None
        return self.tokens_today / (self.daily_tokens * self.members)

    @property
    def monthly_share(self) -> float | None:
        if not self.monthly_cost or not self.members:
            return None
        return float(self.cost_this_month / (self.monthly_cost * self.members))


@dataclass(frozen=True)
class OwnQuota:
    limits: quotas.Limits
    tokens_today: int
    cost_this_month: Decimal

    @property
    def daily_share(self) -> float | None:
        if not self.limits.daily_tokens:
            return None
        return self.tokens_today / self.limits.daily_tokens

    @property
    def monthly_share(self) -> float | None:
        if not self.limits.monthly_cost:
            return None
        return float(self.cost_this_month / self.limits.monthly_cost)


@dataclass(frozen=True)
class Dashboard:
    scope: Scope
    totals: Totals
    periods: Periods
    models: list[ModelRow]
    users: list[UserRow] | None  # staff only
    tier_quotas: list[TierQuota] | None  # staff only
    own_quota: OwnQuota


def build(scope: Scope, user: User) -> Dashboard:
    days = UsageDay.objects.filter(scope.of_days())
    staff = scope.user_id is None
    return Dashboard(
        scope=scope,
        totals=_totals(days),
        periods=_periods(scope, days),
        models=_models(scope),
        users=_users(days) if staff else None,
        tier_quotas=_tier_quotas() if staff else None,
        own_quota=_own_quota(user),
    )


_TOKENS = F("input_tokens") + F("output_tokens")


def _costs() -> dict:
    return {
        "team_cost": Sum("cost", filter=Q(key_kind=KeyKind.TEAM), default=Decimal(0)),
        "personal_cost": Sum("cost", filter=Q(key_kind=KeyKind.PERSONAL), default=Decimal(0)),
    }


def _totals(days: QuerySet[UsageDay]) -> Totals:
    sums = days.aggregate(
        **{
            name: Sum(name, default=0)
            for name in ("tries", "answered", "input_tokens", "output_tokens", "cached_tokens")
        },
        **_costs(),
    )
    return Totals(**sums)


def _periods(scope: Scope, days: QuerySet[UsageDay]) -> Periods:
    unit = "day" if scope.days <= DAYS_BY_DAY else "week" if scope.days <= DAYS_BY_WEEK else "month"
    starts = sorted({_period_of(scope.since + timedelta(n), unit) for n in range(scope.days)})
    rows = days.values("day", "provider_name", "model_id").annotate(
        tokens=Sum(_TOKENS), cost=Sum("cost")
    )
    tokens: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    cost: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        name, start = f"{row['provider_name']}/{row['model_id']}", _period_of(row["day"], unit)
        tokens[name][start] += row["tokens"]
        cost[name][start] += row["cost"]
    busiest = sorted(tokens, key=lambda name: (-sum(tokens[name].values()), name))
    models = busiest[:TOP_MODELS]
    if len(busiest) > TOP_MODELS:
        models.append(OTHER_MODELS)
        for name in busiest[TOP_MODELS:]:
            for start in starts:
                tokens[OTHER_MODELS][start] += tokens[name][start]
                cost[OTHER_MODELS][start] += cost[name][start]
    return Periods(
        unit=unit,
        labels=[_label(start, unit) for start in starts],
        models=models,
        tokens=[[tokens[name][start] for start in starts] for name in models],
        cost=[[cost[name][start] for start in starts] for name in models],
    )


def _period_of(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def _label(start: date, unit: str) -> str:
    if unit == "month":
        return date_format(start, "M Y")
    text = date_format(start, "j M")
    return f"Week of {text}" if unit == "week" else text


def _models(scope: Scope) -> list[ModelRow]:
    """Each provider's figures, then its models', from the tries verdict() counts."""
    judged = (
        UsageDay.objects.filter(scope.of_models())
        .values("provider_name", "model_id")
        .annotate(succeeded=Sum("succeeded"), failed=Sum("failed"))
    )
    counts: dict[tuple[str, str], list[int]] = {}
    for row in judged:
        counts[row["provider_name"], row["model_id"]] = [row["succeeded"], row["failed"]]
    times: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    buckets = (
        LatencyDay.objects.filter(scope.of_models())
        .values_list("provider_name", "model_id", "measure", "ms")
        .annotate(tries=Sum("tries"))
    )
    for provider, model, measure, ms, tries in buckets:
        times[provider, model, measure].append((ms, tries))
        times[provider, "", measure].append((ms, tries))
    rows: list[ModelRow] = []
    for provider in sorted({provider for provider, _ in counts}):
        models = sorted(model for p, model in counts if p == provider)
        succeeded = sum(counts[provider, model][0] for model in models)
        failed = sum(counts[provider, model][1] for model in models)
        rows.append(ModelRow(provider, "", _figures(times, provider, "", succeeded, failed)))
        for model in models:
            succeeded, failed = counts[provider, model]
            rows.append(
                ModelRow(provider, model, _figures(times, provider, model, succeeded, failed))
            )
    return rows


def _figures(times: dict, provider: str, model: str, succeeded: int, failed: int) -> Figures:
    return figures(
        tries=succeeded + failed,
        succeeded=succeeded,
        ttfts=times.get((provider, model, Measure.TTFT), []),
        latencies=times.get((provider, model, Measure.TOTAL), []),
    )


def _users(days: QuerySet[UsageDay]) -> list[UserRow]:
    rows = (
        days.values("username")
        .annotate(tries=Sum("tries"), tokens=Sum(_TOKENS), **_costs())
        .order_by("-tokens", "username")[:TOP_USERS]
    )
    return [UserRow(**row) for row in rows]


def _tier_quotas() -> list[TierQuota]:
    """Every tier with a limit, its members' use of it today and this month."""
    tiers = [
        tier
        for tier in Tier.objects.all()
        if tier.daily_token_quota is not None or tier.monthly_cost_budget is not None
    ]
    if not tiers:
        return []
    members = _members(tiers)
    used = _used_now(set().union(*members.values()))
    rows = []
    for tier in tiers:
        mine = [used.get(pk, (0, Decimal(0))) for pk in members[tier.pk]]
        daily, monthly = tier.daily_token_quota, tier.monthly_cost_budget
        rows.append(
            TierQuota(
                name=tier.name,
                members=len(mine),
                daily_tokens=daily,
                tokens_today=sum(tokens for tokens, _ in mine),
                at_daily_limit=sum(daily is not None and t >= daily for t, _ in mine),
                monthly_cost=monthly,
                cost_this_month=sum((cost for _, cost in mine), Decimal(0)),
                at_monthly_budget=sum(monthly is not None and c >= monthly for _, c in mine),
            )
        )
    return rows


def _members(tiers: list[Tier]) -> dict[int, set[int]]:
    """The active members of each tier: its group's, and for the default tier everyone
    in no tier's group (as providers.access places people)."""
    every_group = Tier.objects.exclude(group=None).values("group")
    in_groups = Group.user_set.through.objects.filter(
        group__in=every_group, user__is_active=True
    ).values_list("group_id", "user_id")
    by_group: dict[int, set[int]] = defaultdict(set)
    for group_id, user_id in in_groups:
        by_group[group_id].add(user_id)
    members = {tier.pk: by_group.get(tier.group_id, set()) for tier in tiers}
    default = next((tier for tier in tiers if tier.is_default), None)
    if default is not None:
        grouped = set().union(*by_group.values())
        active = User.objects.filter(is_active=True).values_list("pk", flat=True)
        members[default.pk] = members[default.pk] | (set(active) - grouped)
    return members


def _used_now(user_ids: set[int]) -> dict[int, tuple[int, Decimal]]:
    """Each person's tokens today and cost this month on the team's keys, as the quota
    check reads them (reservations of answers under way included)."""
    counters = QuotaCounter.objects.filter(
        quotas.current_periods(timezone.localdate()), user_id__in=user_ids
    )
    used: dict[int, list] = defaultdict(lambda: [0, Decimal(0)])
    for counter in counters:
        if counter.period == Period.DAY:
            used[counter.user_id][0] = counter.tokens
        else:
            used[counter.user_id][1] = counter.cost
    return {pk: (tokens, cost) for pk, (tokens, cost) in used.items()}


def _own_quota(user: User) -> OwnQuota:
    tokens, cost = _used_now({user.pk}).get(user.pk, (0, Decimal(0)))
    return OwnQuota(quotas.limits_for(user.pk, access.tiers_for(user)), tokens, cost)
