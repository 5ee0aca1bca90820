"""Quotas: a daily token quota and a monthly cost budget per person, for answers on the
team's keys (a personal key's answers are the person's to pay).

A person's limits are their own where set (PersonalQuota), else their tiers' loosest (a
tier without a limit lifts it). Days and months are TIME_ZONE's.

The check holds across workers and instances: before an answer goes upstream, reserve()
locks the person's counter rows for the day and the month (SELECT … FOR UPDATE on
PostgreSQL; SQLite's IMMEDIATE transactions hold its write lock from BEGIN), refuses if a
limit is reached, and adds the answer's estimate (its input and its output allowance);
settle() replaces the estimate with the real figures when the answer ends. So answers
sent at the same moment see each other's reservations: once the reserved total reaches a
limit, every later answer is refused. What a person can pass a limit by is the last
admitted answer's reservation plus whatever the admitted answers use beyond their
estimates (nothing past the reservation when the model sets max_tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.formats import date_format

from providers.errors import UserFacingError
from providers.models import Tier
from usage.models import Period, PersonalQuota, QuotaCounter


class QuotaExceededError(UserFacingError):
    pass


@dataclass(frozen=True)
class Limits:
    daily_tokens: int | None = None
    monthly_cost: Decimal | None = None
    # Whose each limit is: "your own", or the tiers' names.
    daily_source: str = ""
    monthly_source: str = ""


def limits_for(user_id: int, tiers: list[Tier]) -> Limits:
    own = PersonalQuota.objects.filter(user_id=user_id).first()
    names = ", ".join(tier.name for tier in tiers)
    theirs = f"tier {names}" if names else ""
    daily = _loosest([tier.daily_token_quota for tier in tiers])
    monthly = _loosest([tier.monthly_cost_budget for tier in tiers])
    own_daily = own.daily_token_quota if own else None
    own_monthly = own.monthly_cost_budget if own else None
    return Limits(
        own_daily if own_daily is not None else daily,
        own_monthly if own_monthly is not None else monthly,
        "your own" if own_daily is not None else theirs,
        "your own" if own_monthly is not None else theirs,
    )


Limit = TypeVar("Limit", int, Decimal)


def _loosest(limits: list[Limit | None]) -> Limit | None:
    if not limits or None in limits:
        return None
    return max(limit for limit in limits if limit is not None)


@dataclass(frozen=True)
class Reservation:
    counters: tuple[int, ...]
    tokens: int
    cost: Decimal


def check(user_id: int, tiers: list[Tier]) -> None:
    """QuotaExceededError when a limit is reached now (Send asks, so a message that cannot
    be answered is not saved; reserve() decides)."""
    limits = limits_for(user_id, tiers)
    if limits.daily_tokens is None and limits.monthly_cost is None:
        return
    today = timezone.localdate()
    counters = {c.period: c for c in QuotaCounter.objects.filter(_periods(user_id, today))}
    if refusal := _refusal(limits, counters, today):
        raise refusal


def reserve(user_id: int, tiers: list[Tier], *, tokens: int, cost: Decimal) -> Reservation:
    """Reserve an answer's estimate against the person's limits, or QuotaExceededError."""
    limits = limits_for(user_id, tiers)
    today = timezone.localdate()
    # No savepoint, two statements fewer with every answer (bench/README.md): nothing in
    # the block raises on purpose, and a refusal is raised once it has ended, so that a
    # caller's transaction goes on (the counters created stay, at zero).
    with transaction.atomic(savepoint=False):
        QuotaCounter.objects.bulk_create(
            [
                QuotaCounter(user_id=user_id, period=Period.DAY, starts_on=today),
                QuotaCounter(user_id=user_id, period=Period.MONTH, starts_on=today.replace(day=1)),
            ],
            ignore_conflicts=True,
        )
        # In the order of their keys, as every reservation locks them: no deadlock.
        rows = QuotaCounter.objects.select_for_update().filter(_periods(user_id, today))
        counters = {c.period: c for c in rows.order_by("pk")}
        pks = tuple(c.pk for c in counters.values())
        if not (refusal := _refusal(limits, counters, today)):
            QuotaCounter.objects.filter(pk__in=pks).update(
                tokens=F("tokens") + tokens, cost=F("cost") + cost
            )
    if refusal:
        raise refusal
    return Reservation(pks, tokens, cost)


def settle(reservation: Reservation, *, tokens: int, cost: Decimal) -> None:
    """Replace the reservation's estimate with what the answer used."""
    QuotaCounter.objects.filter(pk__in=reservation.counters).update(
        tokens=F("tokens") + (tokens - reservation.tokens),
        cost=F("cost") + (cost - reservation.cost),
    )


def _periods(user_id: int, today: date) -> Q:
    return Q(user_id=user_id) & current_periods(today)


def current_periods(today: date) -> Q:
    """The counters of `today` and of its month."""
    return Q(period=Period.DAY, starts_on=today) | Q(
        period=Period.MONTH, starts_on=today.replace(day=1)
    )


def _refusal(
    limits: Limits, counters: dict[str, QuotaCounter], today: date
) -> QuotaExceededError | None:
    """Why an answer is refused now, if a limit is reached."""
    day, month = counters.get(Period.DAY), counters.get(Period.MONTH)
    used_tokens = day.tokens if day else 0
    used_cost = month.cost if month else Decimal(0)
    if limits.daily_tokens is not None and used_tokens >= limits.daily_tokens:
        whose = f" ({limits.daily_source})" if limits.daily_source else ""
        return QuotaExceededError(
            f"Your daily token quota{whose} is used up: {used_tokens:,} of "
            f"{limits.daily_tokens:,} tokens today. It resets {_at(today + timedelta(days=1))}."
        )
    if limits.monthly_cost is not None and used_cost >= limits.monthly_cost:
        whose = f" ({limits.monthly_source})" if limits.monthly_source else ""
        currency = settings.USAGE_CURRENCY
        return QuotaExceededError(
            f"Your monthly budget{whose} is used up: {used_cost:,.2f} of "
            f"{limits.monthly_cost:,.2f} {currency} this month. It resets "
            f"{_at(_next_month(today))}."
        )
    return None


def _next_month(today: date) -> date:
    return (today.replace(day=1) + timedelta(days=32)).replace(day=1)


def _at(day: date) -> str:
    """Midnight starting `day`, in TIME_ZONE, as people read it."""
    midnight = timezone.make_aware(datetime.combine(day, time()))
    return f"at {date_format(midnight, 'H:i')} on {date_format(midnight, 'j M Y')} " + (
        f"({settings.TIME_ZONE})"
    )
