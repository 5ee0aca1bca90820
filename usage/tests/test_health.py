"""Model health from a known set of usage records, and where the pages show it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from providers import health
from providers.models import LLMModel
from providers.tests.factories import make_model, make_provider
from usage.health import reports
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


def tries(
    model: LLMModel,
    outcomes: list[str],
    *,
    ago: timedelta,
    ttft: int = 200,
    key_kind: str = "team",
) -> None:
    """Records of tries of `model`, `ago` before now, the n-th taking n times 100 ms."""
    at = timezone.now() - ago
    UsageRecord.objects.bulk_create(
        UsageRecord(
            created_at=at,
            username="alice",
            provider=model.provider,
            provider_name=model.provider.name,
            llm_model=model,
            model_id=model.model_id,
            key_kind=key_kind,
            outcome=outcome,
            ttft_ms=ttft if outcome == "ok" else None,
            latency_ms=(n + 1) * 100,
            currency="USD",
        )
        for n, outcome in enumerate(outcomes)
    )


@pytest.fixture
def models() -> list[LLMModel]:
    provider = make_provider()
    return [
        make_model(provider, model_id=name, display_name=name)
        for name in ("steady", "shaky", "down", "quiet")
    ]


def test_the_figures_of_the_last_hour_and_the_last_day(models: list[LLMModel]) -> None:
    steady = models[0]
    tries(steady, ["ok"] * 9 + ["timeout"], ago=timedelta(minutes=10))
    tries(steady, ["ok", "rate_limited"], ago=timedelta(hours=5))
    tries(steady, ["unavailable"], ago=timedelta(hours=30))  # past the day: not counted
    tries(steady, ["interrupted"], ago=timedelta(minutes=1))  # our server's, not theirs

    report = reports("llm_model", [steady.pk])[steady.pk]

    assert (report.hour.tries, report.hour.succeeded) == (10, 9)
    assert (report.day.tries, report.day.succeeded) == (12, 10)
    assert (report.hour.ttft_p50, report.hour.ttft_p95) == (200, 200)
    # The answered tries took 100…900 ms (the timeout's 1000 ms is left out): nearest
    # rank, p50 is the 5th of 9, p95 the 9th.
    assert (report.hour.latency_p50, report.hour.latency_p95) == (500, 900)
    assert report.health.status == health.HEALTHY  # 90 % in the last hour
    assert report.health.last_hour == (
        "90% of 10 tries answered, first token p50 200 ms / p95 200 ms, "
        "total p50 500 ms / p95 900 ms"
    )


def test_what_is_not_the_providers_fault_counts_neither_way(models: list[LLMModel]) -> None:
    steady = models[0]
    tries(steady, ["ok"] * 5, ago=timedelta(minutes=5))
    # Our own failure, a payload it refused, a person's own revoked key, a Stop at once:
    tries(steady, ["failed", "refused", "interrupted"], ago=timedelta(minutes=5))
    tries(steady, ["bad_key"], ago=timedelta(minutes=5), key_kind="personal")
    tries(steady, ["stopped"], ago=timedelta(minutes=5))  # no first token: ttft None

    report = reports("llm_model", [steady.pk])[steady.pk]

    assert (report.hour.tries, report.hour.succeeded) == (5, 5)


def test_the_status_of_each_model(models: list[LLMModel]) -> None:
    steady, shaky, down, quiet = models
    tries(steady, ["ok"] * 6, ago=timedelta(minutes=5))
    tries(shaky, ["ok"] * 7 + ["timeout"] * 3, ago=timedelta(minutes=5))
    # Too few tries in the hour to judge by: the day's are read, mostly failures.
    tries(down, ["ok"], ago=timedelta(minutes=5))
    tries(down, ["unavailable"] * 5, ago=timedelta(hours=3))

    found = health.of_models([m.pk for m in models])

    assert {pk: h.status for pk, h in found.items()} == {
        steady.pk: "healthy",
        shaky.pk: "degraded",
        down.pk: "failing",
    }
    assert quiet.pk not in found  # no traffic: the pages show health.UNKNOWN
    assert found[down.pk].summary.startswith("last 24 h: 17% of 6 tries answered")


def test_provider_health_counts_all_its_models(models: list[LLMModel]) -> None:
    tries(models[0], ["ok"] * 5, ago=timedelta(minutes=5))
    tries(models[2], ["unavailable"] * 5, ago=timedelta(minutes=5))

    found = health.of_providers([models[0].provider_id])

    assert found[models[0].provider_id].status == "degraded"  # 5 of 10: below 90 %, not 50


def test_the_models_page_shows_each_status_as_a_word(
    client: Client, user: User, models: list[LLMModel]
) -> None:
    tries(models[2], ["unavailable"] * 5, ago=timedelta(minutes=5))
    client.force_login(user)

    html = client.get(reverse("providers:models")).content.decode()

    assert '<span class="health failing" title="last hour: 0% of 5 tries answered' in html
    assert html.count('<span class="health no-traffic">no traffic</span>') == 3


def test_the_picker_names_only_a_degraded_or_failing_model(
    client: Client, user: User, models: list[LLMModel]
) -> None:
    tries(models[0], ["ok"] * 5, ago=timedelta(minutes=5))
    tries(models[2], ["unavailable"] * 5, ago=timedelta(minutes=5))
    client.force_login(user)

    html = client.get(reverse("sessions_app:index")).content.decode()

    assert ">down (failing)</option>" in html
    assert ">steady</option>" in html
    assert ">quiet</option>" in html


def test_the_admin_lists_show_health_without_a_query_per_row(
    staff_client: Client, models: list[LLMModel]
) -> None:
    tries(models[1], ["ok"] * 7 + ["timeout"] * 3, ago=timedelta(minutes=5))
    url = reverse("admin:providers_llmmodel_changelist")
    with CaptureQueriesContext(connection) as four:
        html = staff_client.get(url).content.decode()
    make_model(models[0].provider, model_id="fifth")

    with CaptureQueriesContext(connection) as five:
        staff_client.get(url)

    assert len(five) == len(four)
    assert '<span class="health degraded" title="last hour: 70% of 10 tries answered' in html
    assert "70% of 10 tries answered" in html
    providers = staff_client.get(reverse("admin:providers_provider_changelist")).content.decode()
    assert '<span class="health degraded" title="last hour: 70%' in providers
