"""Quotas: limits from tiers or the person's own, checked and reserved in the database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import override_settings

from providers.models import Tier
from usage import quotas
from usage.models import PersonalQuota, QuotaCounter
from usage.quotas import QuotaExceededError

pytestmark = pytest.mark.django_db


@pytest.fixture
def tier(user: User) -> Tier:
    group = Group.objects.create(name="Members")
    user.groups.add(group)
    return Tier.objects.create(name="Members", group=group, daily_token_quota=1_000)


def test_an_answer_under_the_quota_reserves_its_estimate_for_the_day_and_the_month(
    user: User, tier: Tier
) -> None:
    reservation = quotas.reserve(user.pk, [tier], tokens=300, cost=Decimal("0.01"))

    counters = {c.period: (c.tokens, c.cost) for c in QuotaCounter.objects.all()}
    assert counters == {"day": (300, Decimal("0.01")), "month": (300, Decimal("0.01"))}
    quotas.settle(reservation, tokens=120, cost=Decimal("0.004"))
    counters = {c.period: (c.tokens, c.cost) for c in QuotaCounter.objects.all()}
    assert counters == {"day": (120, Decimal("0.004")), "month": (120, Decimal("0.004"))}


def test_a_used_up_quota_is_refused_saying_which_how_much_and_when_it_resets(
    user: User, tier: Tier
) -> None:
    quotas.reserve(user.pk, [tier], tokens=1_200, cost=Decimal(0))  # under the limit when sent

    with pytest.raises(QuotaExceededError) as refused:
        quotas.reserve(user.pk, [tier], tokens=10, cost=Decimal(0))

    assert "Your daily token quota (tier Members) is used up: 1,200 of 1,000 tokens today" in (
        refused.value.user_message
    )
    assert "It resets at 00:00 on" in refused.value.user_message
    with pytest.raises(QuotaExceededError):
        quotas.check(user.pk, [tier])


def test_the_day_is_the_teams_time_zone_and_the_quota_resets_at_its_midnight(
    user: User, tier: Tier
) -> None:
    with override_settings(TIME_ZONE="Asia/Tokyo"):
        # 14:30 UTC on 1 Dec is 23:30 in Tokyo; 15:30 UTC is 00:30 on 2 Dec there.
        with time_machine.travel(datetime(2026, 12, 1, 14, 30, tzinfo=UTC), tick=False):
            quotas.reserve(user.pk, [tier], tokens=1_000, cost=Decimal(0))
            with pytest.raises(QuotaExceededError) as refused:
                quotas.check(user.pk, [tier])
            assert "resets at 00:00 on 2 Dec 2026 (Asia/Tokyo)" in refused.value.user_message
        with time_machine.travel(datetime(2026, 12, 1, 15, 30, tzinfo=UTC), tick=False):
            quotas.check(user.pk, [tier])  # a new day in Tokyo, still 1 Dec in UTC
            quotas.reserve(user.pk, [tier], tokens=10, cost=Decimal(0))
    days = dict(QuotaCounter.objects.filter(period="day").values_list("starts_on", "tokens"))
    assert {str(day): tokens for day, tokens in days.items()} == {
        "2026-12-01": 1_000,
        "2026-12-02": 10,
    }
    [month] = QuotaCounter.objects.filter(period="month")
    assert (str(month.starts_on), month.tokens) == ("2026-12-01", 1_010)


def test_a_monthly_budget_is_refused_once_spent(user: User, tier: Tier) -> None:
    Tier.objects.filter(pk=tier.pk).update(daily_token_quota=None, monthly_cost_budget=5)
    tier.refresh_from_db()
    with time_machine.travel(datetime(2026, 12, 15, 12, tzinfo=UTC), tick=False):
        quotas.reserve(user.pk, [tier], tokens=10, cost=Decimal("5.20"))

        with pytest.raises(QuotaExceededError) as refused:
            quotas.reserve(user.pk, [tier], tokens=10, cost=Decimal("0.01"))

    message = refused.value.user_message
    assert "Your monthly budget (tier Members) is used up: 5.20 of 5.00 USD this month." in message
    assert "It resets at 00:00 on 1 Jan 2027 (UTC)." in message


def test_a_personal_limit_replaces_the_tiers(user: User, tier: Tier) -> None:
    PersonalQuota.objects.create(user=user, daily_token_quota=50_000)
    quotas.reserve(user.pk, [tier], tokens=20_000, cost=Decimal(0))

    quotas.check(user.pk, [tier])  # past the tier's 1,000, under alice's own 50,000

    limits = quotas.limits_for(user.pk, [tier])
    assert (limits.daily_source, limits.monthly_source) == ("your own", "tier Members")


def test_the_loosest_of_a_persons_tiers_applies_and_no_limit_is_loosest(
    user: User, tier: Tier
) -> None:
    roomier = Tier.objects.create(name="Roomier", daily_token_quota=5_000)
    unlimited = Tier.objects.create(name="Unlimited")

    assert quotas.limits_for(user.pk, [tier, roomier]).daily_tokens == 5_000
    assert quotas.limits_for(user.pk, [tier, unlimited]).daily_tokens is None
    assert quotas.limits_for(user.pk, []).daily_tokens is None


@pytest.mark.django_db(transaction=True)
def test_two_answers_reserving_at_the_same_moment_cannot_both_pass_the_last_of_a_quota(
    user: User, tier: Tier
) -> None:
    """Each reservation in a thread of its own, with a connection of its own: on
    PostgreSQL the row lock, on SQLite the write lock, orders them."""
    quotas.reserve(user.pk, [tier], tokens=990, cost=Decimal(0))  # 10 tokens left
    together = threading.Barrier(2)
    outcomes: list[str] = []

    def send() -> None:
        try:
            together.wait()
            quotas.reserve(user.pk, [tier], tokens=300, cost=Decimal(0))
            outcomes.append("reserved")
        except QuotaExceededError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["refused", "reserved"]
    assert QuotaCounter.objects.get(period="day").tokens == 990 + 300
