"""`manage.py usage_report`: the totals billing reads, by person, model or tier."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import override_settings

from usage.models import UsageRecord
from usage.tests.records import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def records() -> None:
    record(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "alice", "gpt-4o", "0.10")  # before
    record(datetime(2026, 12, 1, 9, tzinfo=UTC), "alice", "gpt-4o", "0.25")
    record(datetime(2026, 12, 1, 10, tzinfo=UTC), "alice", "gpt-4o-mini", "0.01")
    record(datetime(2026, 12, 2, 10, tzinfo=UTC), "bob", "gpt-4o", "0.50", key_kind="personal")
    record(datetime(2026, 12, 2, 11, tzinfo=UTC), "bob", "gpt-4o", None, tier_name="")
    record(datetime(2026, 12, 3, 0, 30, tzinfo=UTC), "bob", "gpt-4o", "9.99")  # after


def report(*arguments: str) -> str:
    out = io.StringIO()
    call_command("usage_report", *arguments, stdout=out)
    return out.getvalue()


def test_totals_by_person_with_the_teams_cost_apart_from_personal_keys(records: None) -> None:
    text = report("--since", "2026-12-01", "--until", "2026-12-02", "--by", "user")

    assert text.splitlines() == [
        "user   tries   input  output  team USD  personal USD",
        "alice      2  18,000   2,000    0.2600        0.0000",
        "bob        2  18,000   2,000    0.0000        0.5000",
    ]


def test_totals_by_model_and_by_tier_as_csv(records: None) -> None:
    by_model = report("--since", "2026-12-01", "--until", "2026-12-02", "--by", "model", "--csv")
    by_tier = report("--since", "2026-12-01", "--until", "2026-12-02", "--by", "tier", "--csv")

    rows = list(csv.DictReader(io.StringIO(by_model)))
    assert [(r["name"], r["tries"], r["team_cost"]) for r in rows] == [
        ("OpenAI/gpt-4o", "3", "0.25000000"),
        ("OpenAI/gpt-4o-mini", "1", "0.01000000"),
    ]
    assert [r["name"] for r in csv.DictReader(io.StringIO(by_tier))] == ["(no tier)", "Members"]


@override_settings(TIME_ZONE="Asia/Tokyo")
def test_the_days_are_the_teams_time_zone() -> None:
    record(datetime(2026, 11, 30, 14, 30, tzinfo=UTC), "alice", "gpt-4o", "0.10")  # 30 Nov
    record(datetime(2026, 11, 30, 15, 30, tzinfo=UTC), "alice", "gpt-4o", "0.10")  # 1 Dec

    text = report("--since", "2026-12-01", "--until", "2026-12-01", "--by", "user")

    assert text.splitlines()[1].split()[:2] == ["alice", "1"]


def test_a_bad_range_is_refused_with_a_reason() -> None:
    with pytest.raises(CommandError, match=r"--until \(2026-11-01\) is before --since"):
        report("--since", "2026-12-01", "--until", "2026-11-01", "--by", "user")
    with pytest.raises(CommandError, match="is not a date"):
        report("--since", "yesterday", "--until", "2026-11-01", "--by", "user")
    assert report(
        "--since", "2026-01-01", "--until", "2026-01-02", "--by", "tier"
    ).splitlines() == [
        "tier  tries  input  output  team USD  personal USD",
        "No usage from 2026-01-01 to 2026-01-02.",
    ]


def test_pruning_removes_old_records_and_keeps_the_daily_totals(records: None) -> None:
    before = report("--since", "2026-12-01", "--until", "2026-12-02", "--by", "user")
    out = io.StringIO()

    with time_machine.travel(datetime(2027, 12, 2, 12, tzinfo=UTC), tick=False):
        call_command("prune_usage", stdout=out)  # 400 days: before 28 Oct 2026 stays…
        assert UsageRecord.objects.count() == 6
        call_command("prune_usage", "--days", "365", stdout=out)  # … before noon, 2 Dec, goes

    assert list(UsageRecord.objects.values_list("username", flat=True)) == ["bob"]
    assert "Removed 5 usage records from before 2026-12-02." in out.getvalue()
    assert report("--since", "2026-12-01", "--until", "2026-12-02", "--by", "user") == before
    with pytest.raises(CommandError, match="--days must be 1 or more"):
        call_command("prune_usage", "--days", "0")
