"""/usage/: who sees which records, what the filters narrow, the figures and the CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pygal
import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from providers.tests.factories import join, make_tier
from usage.models import Period, QuotaCounter
from usage.tests.records import record

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 2, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now() -> object:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def records(user: User, other_user: User) -> None:
    """alice's and bob's tries on two providers over the last days."""
    record(datetime(2026, 12, 1, 9, tzinfo=UTC), "alice", "gpt-4o", "0.25", user_id=user.pk)
    record(
        datetime(2026, 12, 1, 10, tzinfo=UTC),
        "alice",
        "claude-sonnet",
        "0.40",
        user_id=user.pk,
        provider_name="Anthropic",
        ttft_ms=300,
        latency_ms=2_000,
    )
    record(
        datetime(2026, 12, 2, 10, tzinfo=UTC),
        "bob",
        "gpt-4o",
        "0.50",
        user_id=other_user.pk,
        key_kind="personal",
        tier_name="Research",
    )
    record(
        datetime(2026, 12, 2, 11, tzinfo=UTC),
        "bob",
        "gpt-4o",
        "0.10",
        user_id=other_user.pk,
        outcome="timeout",
        ttft_ms=None,
        latency_ms=30_000,
        tier_name="Research",
    )
    record(datetime(2026, 10, 1, 9, tzinfo=UTC), "bob", "gpt-4o", "7.00", user_id=other_user.pk)


def page(client: Client, **filters: str) -> str:
    response = client.get(reverse("usage:dashboard"), filters)
    assert response.status_code == 200
    return response.content.decode()


def table(html: str, caption: str) -> list[list[str]]:
    """The rows of the table with `caption`, each a list of its cells' text."""
    start = html.index(f"<caption>{caption}")
    body = html[start : html.index("</table>", start)]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def download(client: Client, **filters: str) -> list[dict[str, str]]:
    response = client.get(reverse("usage:records_csv"), filters)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    text = async_to_sync(_joined)(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


async def _joined(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def test_a_person_sees_only_their_own_usage(client: Client, user: User, records: None) -> None:
    client.force_login(user)

    html = page(client)

    assert table(html, "Tokens per day by model") == [
        ["Day", "Anthropic/claude-sonnet", "OpenAI/gpt-4o", "All"],
        ["1 Dec", "10,000", "10,000", "20,000"],  # the days of nothing left out
    ]
    assert "Top users" not in html
    assert "bob" not in html
    assert "0.65 USD" in html  # alice's team cost: 0.25 + 0.40


def test_a_person_cannot_reach_anothers_records_by_url_or_csv(
    client: Client, user: User, records: None
) -> None:
    client.force_login(user)

    html = page(client, username="bob", tier="Research")
    rows = download(client, username="bob")

    assert "bob" not in html
    assert table(html, "Tokens per day by model")[1:] == [["No usage in this range."]]
    assert {row["username"] for row in rows} == {"alice"}
    assert len(rows) == 2


def test_a_range_of_nothing_draws_no_empty_chart(staff_client: Client, records: None) -> None:
    html = page(staff_client, since="2020-01-01", until="2020-01-31")

    assert "<svg" not in html
    assert table(html, "Tokens per day by model")[1:] == [["No usage in this range."]]
    assert table(html, "Success rate and latency by provider and model")[1:] == [
        ["No tries in this range."]
    ]
    assert "<svg" in page(staff_client)  # the records' own range has its charts


def test_staff_see_everyone_and_the_filters_narrow_it(staff_client: Client, records: None) -> None:
    everyone = page(staff_client)
    bobs = page(staff_client, username="bob", key_kind="team")
    anthropic = page(staff_client, provider="Anthropic")

    assert [row[0] for row in table(everyone, "The busiest users by tokens")[1:]] == [
        "alice",
        "bob",
    ]
    assert table(bobs, "The busiest users by tokens")[1:] == [
        ["bob", "1", "10,000", "0.10 USD", "0.00 USD"]
    ]
    assert table(anthropic, "Tokens per day by model")[0] == [
        "Day",
        "Anthropic/claude-sonnet",
        "All",
    ]


def test_the_models_figures_count_every_try_on_them(staff_client: Client, records: None) -> None:
    html = page(staff_client, username="alice")  # the person filter does not apply here

    rows = table(html, "Success rate and latency by provider and model")

    assert rows[1:] == [
        ["Anthropic (all models)", "1", "100%", "300 ms", "300 ms", "2,000 ms", "2,000 ms"],
        ["Anthropic/claude-sonnet", "1", "100%", "300 ms", "300 ms", "2,000 ms", "2,000 ms"],
        ["OpenAI (all models)", "3", "67%", "100 ms", "100 ms", "500 ms", "500 ms"],
        ["OpenAI/gpt-4o", "3", "67%", "100 ms", "100 ms", "500 ms", "500 ms"],
    ]


def test_a_long_range_is_shown_by_week_and_by_month(staff_client: Client, records: None) -> None:
    by_week = page(staff_client, since="2026-09-01", until="2026-12-02")
    by_month = page(staff_client, since="2025-06-01", until="2026-12-02")

    assert ["Week of 28 Sep", "10,000", "0", "10,000"] in table(by_week, "Tokens per week by model")
    assert ["Oct 2026", "7.00 USD", "0.00 USD", "7.00 USD"] in table(
        by_month, "Cost per month by model"
    )


def test_the_csv_holds_the_filtered_records(staff_client: Client, records: None) -> None:
    rows = download(staff_client, since="2026-12-02", until="2026-12-02")

    assert [(r["username"], r["outcome"], r["key_kind"], r["cost"]) for r in rows] == [
        ("bob", "ok", "personal", "0.50000000"),
        ("bob", "timeout", "team", "0.10000000"),
    ]
    assert rows[0]["created_at"] == "2026-12-02T10:00:00+00:00"
    assert rows[1]["ttft_ms"] == ""


def test_a_name_a_spreadsheet_would_run_is_written_as_text(staff_client: Client) -> None:
    record(datetime(2026, 12, 2, 9, tzinfo=UTC), '=HYPERLINK("x")', "@model", "0.01")

    rows = download(staff_client)

    assert (rows[0]["username"], rows[0]["model_id"]) == ('\'=HYPERLINK("x")', "'@model")


def test_bad_filters_are_refused_with_the_reason(staff_client: Client) -> None:
    html = page(staff_client, since="2026-12-05", until="2026-12-01")
    bad_date = page(staff_client, since="yesterday")
    csv_response = staff_client.get(reverse("usage:records_csv"), {"until": "2026-13-01"})

    assert "“From” is after “To”" in html
    assert "From: Enter a valid date." in bad_date
    assert csv_response.status_code == 400
    assert "Enter a valid date." in csv_response.content.decode()
    assert 'value="yesterday"' in bad_date  # what was typed stays to be fixed


def test_a_filter_change_gets_the_results_alone(staff_client: Client, records: None) -> None:
    response = staff_client.get(
        reverse("usage:dashboard"), {"provider": "OpenAI"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()

    assert "<form" not in html
    assert (
        'href="/usage/records.csv?since=2026-11-03&amp;until=2026-12-02&amp;provider=OpenAI"'
        in html
    )


def test_the_charts_are_inline_svg_with_nothing_inline_the_policy_refuses(
    staff_client: Client, records: None
) -> None:
    html = page(staff_client)
    body = html.split("</head>")[1]
    stylesheet = staff_client.get(reverse("usage:charts_css"))

    assert body.count('class="pygal-chart"') == 5  # tokens, cost, success, latency, users
    assert "<script" not in body
    assert "<style" not in body
    assert "style=" not in body
    assert stylesheet["Content-Type"] == "text/css; charset=utf-8"
    assert ".pygal-chart .color-8" in stylesheet.content.decode()  # a colour a series
    assert f"charts.css?pygal={pygal.__version__}" in html  # a new pygal's rules load anew


def test_quotas_now_per_tier_and_ones_own(
    client: Client, user: User, other_user: User, staff: User
) -> None:
    make_tier("Members", daily_token_quota=10_000, is_default=True)
    research = make_tier("Research", daily_token_quota=50_000)
    join(other_user, research)
    today = datetime(2026, 12, 2).date()
    QuotaCounter.objects.create(user=user, period=Period.DAY, starts_on=today, tokens=10_000)
    QuotaCounter.objects.create(user=other_user, period=Period.DAY, starts_on=today, tokens=5_000)

    client.force_login(staff)
    tiers = table(page(client), "Each tier")
    client.force_login(user)
    own = page(client)

    # Members: alice and charlie (in no tier's group), alice at her quota.
    assert tiers[1][:6] == ["Members", "2", "10,000", "10,000", "50%", "1"]
    assert tiers[2][:6] == ["Research", "1", "50,000", "5,000", "10%", "0"]
    assert "10,000 of 10,000 (100%)" in own
    assert "Each tier" not in own
