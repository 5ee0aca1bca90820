"""Verification through the fake upstream: every outcome category, timed and keyless."""

from __future__ import annotations

import threading

import pytest

from fakes.upstream import FakeUpstream, Fault, Gate
from providers.models import Provider
from providers.runners.base import ConfigurationError
from providers.tests.factories import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    UNUSABLE_BASE_URLS,
    break_base_url,
    make_fake_provider,
    make_model,
)
from providers.upstream.verification import VerificationResult, verify_providers

pytestmark = pytest.mark.django_db

BAD_SETUP = ConfigurationError.user_message


def verify_one(provider: Provider) -> VerificationResult:
    [(_, result)] = verify_providers([provider])
    return result


def test_a_working_key_is_verified_with_one_token_on_the_default_model(
    fake_upstream: FakeUpstream,
) -> None:
    provider = make_fake_provider(fake_upstream)
    make_model(provider, model_id="gpt-4o-mini")
    make_model(provider, model_id="gpt-4o", is_default=True)

    result = verify_one(provider)

    assert result.ok, result
    assert result.checked == "a one-token answer from gpt-4o"
    [request] = fake_upstream.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.body["model"] == "gpt-4o"
    assert request.body["max_tokens"] == 1
    assert request.key == OPENAI_KEY
    provider.refresh_from_db()
    assert provider.last_verification_ok is True
    assert provider.last_latency_ms == result.latency_ms >= 0
    assert provider.last_verified_at is not None
    assert provider.last_error == ""


def test_openais_own_api_gets_max_completion_tokens(fake_upstream: FakeUpstream) -> None:
    provider = make_fake_provider(fake_upstream, preset="openai")
    make_model(provider, model_id="gpt-4o")

    assert verify_one(provider).ok

    assert fake_upstream.requests[0].body["max_completion_tokens"] == 1


def test_an_anthropic_key_is_verified_with_one_token(fake_upstream: FakeUpstream) -> None:
    fake_upstream.models = ["claude-sonnet-5-5"]
    provider = make_fake_provider(fake_upstream, protocol="anthropic")
    make_model(provider, model_id="claude-sonnet-5-5")

    assert verify_one(provider).ok

    [request] = fake_upstream.requests
    assert (request.path, request.protocol, request.key) == (
        "/v1/messages",
        "anthropic",
        ANTHROPIC_KEY,
    )
    assert request.body["max_tokens"] == 1


def test_a_provider_without_models_lists_them_instead(fake_upstream: FakeUpstream) -> None:
    result = verify_one(make_fake_provider(fake_upstream))

    assert result.ok
    assert result.checked == "model list only: enable a model to check a real answer"
    assert fake_upstream.requests[0].path == "/v1/models"


@pytest.mark.parametrize(
    ("fault", "category", "message"),
    [
        (Fault(status=401), "bad key", "The provider rejected the API key. HTTP 401"),
        (Fault(status=403), "no permission", "The API key is not allowed to do this."),
        (Fault(status=429, retry_after=30), "rate limited", "(retry after 30 s)"),
        (Fault(status=404), "model not found", "The provider does not know this model."),
        (Fault(status=500), "unexpected response", "HTTP 500"),
        (Fault(status=503), "unexpected response", "try again later"),
        (Fault(status=400), "unexpected response", "The provider refused the request."),
        (Fault(body=b"<html>Gateway</html>"), "unexpected response", "not in the expected"),
        (Fault(body=b'{"unexpected": true}'), "unexpected response", "not in the expected"),
        (Fault(redirect_to="https://elsewhere.example/v1"), "unexpected response", "HTTP 302"),
    ],
)
def test_each_failure_gets_its_category(
    fake_upstream: FakeUpstream, fault: Fault, category: str, message: str
) -> None:
    provider = make_fake_provider(fake_upstream)
    make_model(provider, model_id="gpt-4o")
    fake_upstream.faults.append(fault)

    result = verify_one(provider)

    assert (result.ok, result.category) == (False, category), result
    assert message in result.message
    provider.refresh_from_db()
    assert provider.last_verification_ok is False
    assert provider.last_error.startswith(f"{category}: ")
    assert len(fake_upstream.requests) == 1  # no retry, no redirect followed


def test_a_wrong_key_is_a_bad_key(fake_upstream: FakeUpstream) -> None:
    fake_upstream.api_key = "sk-FAKE.the.right.one.1234"
    provider = make_fake_provider(fake_upstream)

    assert verify_one(provider).category == "bad key"


def test_an_unknown_model_is_model_not_found(fake_upstream: FakeUpstream) -> None:
    provider = make_fake_provider(fake_upstream)
    make_model(provider, model_id="gpt-9-turbo")

    result = verify_one(provider)

    assert result.category == "model not found"
    assert "gpt-9-turbo" in result.message


def test_a_timeout_is_reported_within_the_providers_bound(fake_upstream: FakeUpstream) -> None:
    provider = make_fake_provider(fake_upstream, settings={"read_timeout": 1})
    silent = Gate()  # never opened: the check times out and hangs up first
    fake_upstream.faults.append(Fault(hold=silent))

    result = verify_one(provider)

    assert result.category == "timeout"
    # The provider's 1 s, not the 60 s default; the upper bound leaves room for a busy machine.
    assert 900 <= result.latency_ms < 20_000


def test_a_closed_port_is_network_unreachable() -> None:
    provider = make_fake_provider(FakeUpstream(base_url="http://127.0.0.1:9/v1"))

    result = verify_one(provider)

    assert result.category == "network unreachable"


def test_a_host_resolving_to_loopback_is_a_refused_address(fake_upstream: FakeUpstream) -> None:
    port = fake_upstream.base_url.rsplit(":", 1)[1]
    provider = make_fake_provider(
        fake_upstream, base_url=f"https://localhost:{port}", allow_private_network=False
    )

    result = verify_one(provider)

    assert result.category == "refused address"
    assert "Refused to connect to localhost (127.0.0.1): it is a loopback address" in (
        result.message
    )
    assert fake_upstream.requests == []


def test_an_upstream_echoing_the_key_never_gets_it_stored_or_logged(
    fake_upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    provider = make_fake_provider(fake_upstream)
    fake_upstream.faults.append(Fault(status=401, echo_key="exact"))

    result = verify_one(provider)

    provider.refresh_from_db()
    assert result.category == "bad key"
    assert "The provider rejected the API key." in result.message
    assert OPENAI_KEY not in result.message
    assert OPENAI_KEY not in provider.last_error
    assert "sk-…234" in provider.last_error  # the echo is there, masked
    assert "Fake OpenAI" in caplog.text  # the check was logged, without the key
    assert OPENAI_KEY not in caplog.text


def test_a_provider_without_its_key_is_a_bad_key_without_a_request(
    fake_upstream: FakeUpstream,
) -> None:
    provider = make_fake_provider(fake_upstream, preset="openai", api_key="", enabled=False)

    result = verify_one(provider)

    assert (result.category, result.message) == ("bad key", "No API key stored.")
    assert fake_upstream.requests == []


def test_an_unreadable_key_is_a_bad_key_without_a_request(
    fake_upstream: FakeUpstream, settings
) -> None:
    from cryptography.fernet import Fernet

    provider = make_fake_provider(fake_upstream)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    result = verify_one(Provider.objects.get(pk=provider.pk))

    assert result.category == "bad key"
    assert "cannot be decrypted" in result.message
    assert fake_upstream.requests == []


def test_bulk_verification_runs_four_at_a_time(fake_upstream: FakeUpstream) -> None:
    providers = [make_fake_provider(fake_upstream, name=f"Fake {n}") for n in range(7)]
    gate = Gate()  # holds every check until four are waiting at once
    fake_upstream.faults += [Fault(hold=gate) for _ in providers]
    fake_upstream.faults[2] = Fault(hold=gate, status=401)

    def open_when_four_wait() -> None:
        try:
            gate.wait_held(4)
        finally:
            gate.open()

    opener = threading.Thread(target=open_when_four_wait)
    opener.start()
    results = verify_providers(providers)
    opener.join()

    assert [p.name for p, _ in results] == [p.name for p in providers]
    assert sum(r.ok for _, r in results) == 6
    assert fake_upstream.max_in_flight == 4


@pytest.mark.parametrize(("url", "detail"), UNUSABLE_BASE_URLS.values(), ids=UNUSABLE_BASE_URLS)
def test_a_base_url_the_client_cannot_use_fails_that_provider_and_no_other(
    fake_upstream: FakeUpstream, url: str, detail: str
) -> None:
    make_fake_provider(fake_upstream, name="Good")
    break_base_url(make_fake_provider(fake_upstream, name="Broken"), url)

    results = verify_providers(list(Provider.objects.order_by("name")))

    [(broken, failed), (good, verified)] = results
    assert (broken.name, failed.ok, failed.category) == ("Broken", False, "bad configuration")
    assert failed.message == f"{BAD_SETUP} {detail}"
    assert (good.name, verified.ok) == ("Good", True)
    broken.refresh_from_db()
    assert broken.last_error == f"bad configuration: {BAD_SETUP} {detail}"
    assert len(fake_upstream.requests) == 1  # Good's


@pytest.mark.parametrize(
    ("stored", "detail"),
    [
        (
            {"settings": {"connect_timeout": "5"}},
            "Its setting connect_timeout: must be a number between 0.5 and 60, not a string.",
        ),
        (
            {"settings": {"extra_headers": {"X-Team": 7}}},
            "Its setting extra_headers: must be an object of header names to string values, "
            'e.g. {"X-Team": "ml"}.',
        ),
        ({"protocol": "grpc"}, "Its protocol, 'grpc', is not one Switchboard speaks."),
    ],
    ids=["timeout", "headers", "protocol"],
)
def test_a_stored_value_the_runner_cannot_use_fails_that_provider_and_no_other(
    fake_upstream: FakeUpstream, stored: dict, detail: str
) -> None:
    make_fake_provider(fake_upstream, name="Good")
    Provider.objects.filter(pk=make_fake_provider(fake_upstream, name="Broken").pk).update(**stored)

    [(_, failed), (_, verified)] = verify_providers(list(Provider.objects.order_by("name")))

    assert (failed.category, failed.message) == ("bad configuration", f"{BAD_SETUP} {detail}")
    assert verified.ok
