"""Model discovery through the fake upstream."""

from __future__ import annotations

import pytest

from fakes.upstream import FakeUpstream, Fault
from providers.models import LLMModel, ModelSource
from providers.runners.base import AuthError, ConfigurationError, MalformedResponseError
from providers.tests.concurrency import run_at_once
from providers.tests.factories import break_base_url, make_fake_provider, make_model
from providers.upstream.discovery import DiscoveryError, fetch_models

pytestmark = pytest.mark.django_db


def ids(provider, **filters) -> list[str]:
    return sorted(provider.models.filter(**filters).values_list("model_id", flat=True))


def test_new_models_arrive_disabled_and_discovered(fake_upstream: FakeUpstream) -> None:
    fake_upstream.models = ["gpt-4o", "gpt-4o-mini", "o3"]
    provider = make_fake_provider(fake_upstream)
    make_model(provider, model_id="gpt-4o")

    summary = fetch_models(provider)

    assert sorted(m.model_id for m in summary.new) == ["gpt-4o-mini", "o3"]
    assert (summary.unchanged, summary.missing) == (1, ())
    assert summary.line == "2 new, 0 missing, 1 unchanged"
    assert ids(provider, enabled=False) == ["gpt-4o-mini", "o3"]
    o3 = provider.models.get(model_id="o3")
    assert o3.source == ModelSource.DISCOVERED
    assert o3.first_seen_at == o3.last_seen_at
    provider.refresh_from_db()
    assert provider.models_fetched_at == o3.last_seen_at
    assert provider.models.get(model_id="gpt-4o").last_seen_at == o3.last_seen_at


def test_enable_new_and_the_auto_enable_setting(fake_upstream: FakeUpstream) -> None:
    asked = make_fake_provider(fake_upstream, name="Asked")
    automatic = make_fake_provider(
        fake_upstream, name="Automatic", settings={"auto_enable_new_models": True}
    )

    fetch_models(asked, enable_new=True)
    fetch_models(automatic)

    assert ids(asked, enabled=True) == ids(automatic, enabled=True) == ["gpt-4o", "gpt-4o-mini"]


def test_fetching_again_changes_nothing(fake_upstream: FakeUpstream) -> None:
    provider = make_fake_provider(fake_upstream)
    fetch_models(provider)
    before = list(provider.models.values_list("pk", "model_id", "enabled", "first_seen_at"))

    summary = fetch_models(provider)

    assert (summary.new, summary.missing, summary.unchanged) == ((), (), 2)
    after = list(provider.models.values_list("pk", "model_id", "enabled", "first_seen_at"))
    assert after == before


def test_a_model_no_longer_listed_is_marked_missing_not_deleted(
    fake_upstream: FakeUpstream,
) -> None:
    provider = make_fake_provider(fake_upstream)
    fetch_models(provider)
    fake_upstream.models = ["gpt-4o"]

    summary = fetch_models(provider)

    assert summary.missing == ("gpt-4o-mini",)
    assert summary.line == "0 new, 1 missing, 1 unchanged"
    gone = provider.models.get(model_id="gpt-4o-mini")
    assert gone.missing_since is not None
    missing_since = gone.missing_since

    fetch_models(provider)  # still missing: the date it went missing stays
    gone.refresh_from_db()
    assert gone.missing_since == missing_since

    fake_upstream.models = ["gpt-4o", "gpt-4o-mini"]
    fetch_models(provider)  # back again
    gone.refresh_from_db()
    assert gone.missing_since is None


def test_anthropic_discovery_follows_every_page(fake_upstream: FakeUpstream) -> None:
    fake_upstream.models = [f"claude-model-{n:03}" for n in range(250)]
    provider = make_fake_provider(fake_upstream, protocol="anthropic")

    summary = fetch_models(provider)

    assert len(summary.new) == 250
    assert [r.query.get("after_id") for r in fake_upstream.requests] == [
        None,
        "claude-model-099",
        "claude-model-199",
    ]
    assert provider.models.get(model_id="claude-model-007").display_name == "Claude-Model-007"


@pytest.mark.parametrize(
    ("fault", "error", "says"),
    [
        (Fault(body=b'{"object": "list", "data": []}'), DiscoveryError, "listed no models"),
        (Fault(body=b"not json at all"), MalformedResponseError, "not in the expected format"),
        (
            Fault(body=b'{"object": "list", "data": "gpt-4o"}'),
            MalformedResponseError,
            "not in the expected format",
        ),
        (
            Fault(body=b'{"object": "list", "data": [{"name": "gpt-4o"}]}'),
            MalformedResponseError,
            "not in the expected format",
        ),
        (Fault(status=401), AuthError, "rejected the API key"),
    ],
)
def test_an_unusable_list_is_a_clear_error_and_changes_nothing(
    fake_upstream: FakeUpstream, fault: Fault, error: type[Exception], says: str
) -> None:
    provider = make_fake_provider(fake_upstream)
    make_model(provider, model_id="gpt-4o")
    fake_upstream.faults.append(fault)

    with pytest.raises(error) as caught:
        fetch_models(provider)

    assert says in caught.value.user_message
    assert ids(provider) == ["gpt-4o"]
    assert provider.models.get().missing_since is None
    provider.refresh_from_db()
    assert provider.models_fetched_at is None


def test_an_empty_list_says_so(fake_upstream: FakeUpstream) -> None:
    fake_upstream.models = []

    with pytest.raises(DiscoveryError, match="listed no models; nothing was changed"):
        fetch_models(make_fake_provider(fake_upstream))


def test_ids_that_are_not_model_ids_are_skipped(fake_upstream: FakeUpstream) -> None:
    fake_upstream.models = ["gpt-4o", "bad id", "x" * 300]
    provider = make_fake_provider(fake_upstream)

    summary = fetch_models(provider)

    assert [m.model_id for m in summary.new] == ["gpt-4o"]
    assert summary.skipped == ("bad id", "x" * 300)
    assert summary.line.endswith("2 skipped (not valid model ids)")


def test_a_new_id_another_model_serves_as_its_gateway_name_is_not_added(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.models = ["openai/gpt-4o", "gpt-4o", "o3"]
    provider = make_fake_provider(fake_upstream)
    make_model(provider, model_id="openai/gpt-4o", gateway_name="gpt-4o")
    gone = make_model(provider, model_id="old", gateway_name="o3")
    LLMModel.objects.filter(pk=gone.pk).update(deleted_at="2026-11-30T10:00:00Z")

    summary = fetch_models(provider)

    assert [m.model_id for m in summary.new] == ["o3"]  # a deleted model holds no name
    assert summary.name_taken == ("gpt-4o",)
    assert summary.line.endswith(
        "1 not added (another model here has that id as its gateway name: rename it first)"
    )
    assert ids(provider) == ["o3", "old", "openai/gpt-4o"]


@pytest.mark.django_db(transaction=True)
def test_two_fetches_at_once_create_each_model_once(fake_upstream: FakeUpstream) -> None:
    fake_upstream.models = [f"model-{n}" for n in range(20)]
    provider = make_fake_provider(fake_upstream)
    errors = run_at_once(lambda: fetch_models(provider), times=3)

    assert errors == []
    assert LLMModel.objects.filter(provider=provider).count() == 20


def test_a_base_url_the_client_cannot_use_is_named_and_nothing_changes(
    fake_upstream: FakeUpstream,
) -> None:
    provider = make_fake_provider(fake_upstream)
    break_base_url(provider)
    provider.refresh_from_db()

    with pytest.raises(ConfigurationError) as caught:
        fetch_models(provider)

    assert caught.value.description == (
        f"{ConfigurationError.user_message} Its base URL does not parse: Invalid port: ':1'."
    )
    assert not provider.models.exists()
    assert fake_upstream.requests == []
