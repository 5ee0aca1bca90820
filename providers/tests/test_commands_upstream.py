"""verify_providers and fetch_models, run as a person would, against the fake upstream."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fakes.upstream import FakeUpstream, Fault
from providers.runners.base import ConfigurationError
from providers.tests.factories import (
    OPENAI_KEY,
    UNUSABLE_BASE_URLS,
    break_base_url,
    make_fake_provider,
    make_model,
)
from providers.tests.leaks import assert_keyless

pytestmark = pytest.mark.django_db


def test_verify_providers_prints_one_line_each(
    fake_upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    make_model(make_fake_provider(fake_upstream), model_id="gpt-4o")

    call_command("verify_providers")

    out = capsys.readouterr().out
    assert "Fake OpenAI: OK in " in out
    assert "(a one-token answer from gpt-4o)" in out
    assert "1 providers verified." in out


def test_verify_providers_fails_with_json_and_no_key(
    fake_upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    # Verification runs providers concurrently, so the failure comes from the key (which
    # the fake checks), not from a fault whose turn would depend on timing.
    bad_key = "sk-proj-FAKE.wrong.key.0123"
    fake_upstream.api_key = OPENAI_KEY
    make_fake_provider(fake_upstream, name="Good")
    make_fake_provider(fake_upstream, name="Bad", api_key=bad_key)

    with pytest.raises(CommandError, match=r"1 of 2 providers failed verification\."):
        call_command("verify_providers", "--provider", "Good", "--provider", "Bad", "--json")

    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert [(r["provider"], r["ok"], r["category"]) for r in results] == [
        ("Good", True, ""),
        ("Bad", False, "bad key"),
    ]
    assert OPENAI_KEY not in captured.out + captured.err
    assert bad_key not in captured.out + captured.err


def test_an_unknown_provider_name_is_named(fake_upstream: FakeUpstream) -> None:
    make_fake_provider(fake_upstream)

    with pytest.raises(CommandError, match=r"No provider named Nope \(known: Fake OpenAI\)"):
        call_command("verify_providers", "--provider", "Nope")


def test_only_enabled_providers_are_verified_by_default(
    fake_upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    make_fake_provider(fake_upstream, name="On")
    make_fake_provider(fake_upstream, name="Off", enabled=False)

    call_command("verify_providers")

    out = capsys.readouterr().out
    assert "On: OK in " in out
    assert "Off" not in out


def test_fetch_models_summarises_each_provider(
    fake_upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    provider = make_fake_provider(fake_upstream)

    call_command("fetch_models", "--enable-new")

    assert "Fake OpenAI: 2 new, 0 missing, 0 unchanged (gpt-4o, gpt-4o-mini)" in (
        capsys.readouterr().out
    )
    assert provider.models.filter(enabled=True).count() == 2


def test_fetch_models_reports_a_failure_and_exits_non_zero(
    fake_upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    make_fake_provider(fake_upstream)
    fake_upstream.faults.append(Fault(status=429, retry_after=5))

    with pytest.raises(CommandError, match=r"1 of 1 providers could not list models\."):
        call_command("fetch_models")

    assert "rate limiting this key" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["verify_providers", "fetch_models"])
@pytest.mark.parametrize("echo", ["lower", "upper", "cut short", "base64", "unicode escapes"])
def test_a_key_echoed_changed_reaches_no_output_log_or_stored_error(
    fake_upstream: FakeUpstream,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    command: str,
    echo: str,
) -> None:
    caplog.set_level("DEBUG")
    provider = make_fake_provider(fake_upstream)
    fake_upstream.faults.append(Fault(status=401, echo_key=echo))

    with pytest.raises(CommandError) as caught:
        call_command(command)

    captured = capsys.readouterr()
    provider.refresh_from_db()
    assert "Fake OpenAI: " in captured.out
    assert "Scripted failure" in captured.out  # the upstream's words, masked
    for text in (captured.out, captured.err, caplog.text, str(caught.value), provider.last_error):
        assert_keyless(text, OPENAI_KEY)


@pytest.mark.parametrize(("url", "detail"), UNUSABLE_BASE_URLS.values(), ids=UNUSABLE_BASE_URLS)
def test_verify_providers_names_a_base_url_it_cannot_use_and_verifies_the_rest(
    fake_upstream: FakeUpstream, capsys: pytest.CaptureFixture[str], url: str, detail: str
) -> None:
    make_fake_provider(fake_upstream, name="Good")
    break_base_url(make_fake_provider(fake_upstream, name="Broken"), url)

    with pytest.raises(CommandError, match=r"1 of 2 providers failed verification\."):
        call_command("verify_providers")

    out = capsys.readouterr().out
    assert f"Broken: bad configuration: {ConfigurationError.user_message} {detail}" in out
    assert "Good: OK in " in out


def test_fetch_models_names_a_base_url_it_cannot_use_and_fetches_the_rest(
    fake_upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_fake_provider(fake_upstream, name="Good")
    break_base_url(make_fake_provider(fake_upstream, name="Broken"))

    with pytest.raises(CommandError, match=r"1 of 2 providers could not list models\."):
        call_command("fetch_models")

    out = capsys.readouterr().out
    assert f"Broken: {ConfigurationError.user_message} Its base URL does not parse" in out
    assert "Good: 2 new, 0 missing, 0 unchanged" in out
    assert good.models.count() == 2
