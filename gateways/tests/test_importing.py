"""Bringing a gateway's configuration into the catalogue: GPT-Load's groups (the fake) and
uni-api api.yaml files, shown first, applied on --apply, conflicts named and skipped."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from fakes.gptload import FakeGPTLoad
from gateways import runs, sync
from gateways.models import GPTLoadInstance, UniApiTarget
from providers.models import LLMModel, ModelSource, Provider
from providers.tests.factories import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    OPENROUTER_KEY,
    make_model,
    make_openrouter,
    make_provider,
)
from providers.tests.leaks import assert_keyless

pytestmark = pytest.mark.django_db


@pytest.fixture
def gptload(fake_gptload: FakeGPTLoad) -> FakeGPTLoad:
    GPTLoadInstance(url=fake_gptload.url, auth_key=fake_gptload.auth_key).save()
    openrouter = fake_gptload.add_group(
        name="openrouter",
        channel_type="openai",
        test_model="deepseek/deepseek-chat",
        upstreams=[{"url": "https://openrouter.ai/api", "weight": 1}],
        model_redirect_rules={"deepseek-chat": "deepseek/deepseek-chat", "qwen": "qwen/qwen-2.5"},
    )
    fake_gptload.keys[openrouter["id"]] = [OPENROUTER_KEY]
    claude = fake_gptload.add_group(
        name="claude",
        channel_type="anthropic",
        test_model="claude-sonnet-4",
        upstreams=[{"url": "https://api.anthropic.com", "weight": 1}],
    )
    fake_gptload.keys[claude["id"]] = [ANTHROPIC_KEY]
    fake_gptload.add_group(name="all-of-them", group_type="aggregate", channel_type="openai")
    fake_gptload.add_group(
        name="gemini",
        channel_type="gemini",
        test_model="g",
        upstreams=[{"url": "https://g", "weight": 1}],
    )
    return fake_gptload


def imported(*args: str, capsys: pytest.CaptureFixture) -> str:
    call_command("import_gateway", *args)
    return capsys.readouterr().out


def test_gptload_s_groups_are_shown_then_brought_in_as_providers_and_models(
    gptload: FakeGPTLoad, capsys: pytest.CaptureFixture
) -> None:
    shown = imported("--from-gptload", capsys=capsys)

    openrouter = "create provider: openrouter: openai at https://openrouter.ai/api/v1"
    assert f"{openrouter}, key sk-…7777" in shown
    assert "add model: openrouter: deepseek/deepseek-chat as deepseek-chat" in shown
    assert "create provider: claude: anthropic at https://api.anthropic.com" in shown
    assert "add model: claude: claude-sonnet-4" in shown
    assert "gemini" not in shown  # not a channel Switchboard speaks
    assert "all-of-them" not in shown  # an aggregate joins groups read themselves
    assert Provider.objects.count() == 0  # shown only
    assert_keyless(shown, OPENROUTER_KEY)
    assert_keyless(shown, ANTHROPIC_KEY)

    done = imported("--from-gptload", "--apply", capsys=capsys)

    assert "5 change(s) made." in done
    openrouter = Provider.objects.get(name="openrouter")
    assert (openrouter.enabled, openrouter.api_key.reveal()) == (False, OPENROUTER_KEY)
    assert dict(openrouter.models.values_list("model_id", "gateway_name")) == {
        "deepseek/deepseek-chat": "deepseek-chat",
        "qwen/qwen-2.5": "qwen",
    }
    assert set(openrouter.models.values_list("source", flat=True)) == {ModelSource.IMPORTED}
    assert Provider.objects.get(name="claude").protocol == "anthropic"
    again = imported("--from-gptload", capsys=capsys)
    assert "Nothing to bring in" in again


def test_conflicts_are_named_and_left_as_the_catalogue_has_them(
    gptload: FakeGPTLoad, capsys: pytest.CaptureFixture
) -> None:
    mine = make_openrouter(name="openrouter", api_key=OPENAI_KEY)
    make_model(mine, model_id="deepseek/deepseek-chat", gateway_name="ds")
    make_provider(
        name="Anthropic direct",
        preset="anthropic",
        protocol="anthropic",
        base_url="https://api.anthropic.com",
        api_key=ANTHROPIC_KEY,
    )

    shown = imported("--from-gptload", "--apply", capsys=capsys)

    assert (
        "conflict: openrouter: deepseek/deepseek-chat exists with gateway name ds, not "
        "deepseek-chat: kept"
    ) in shown
    assert "conflict: openrouter: its key here" in shown
    assert (
        "conflict: claude: Anthropic direct is at the same URL (https://api.anthropic.com)" in shown
    )
    assert "add model: openrouter: qwen/qwen-2.5 as qwen" in shown
    assert LLMModel.objects.get(model_id="deepseek/deepseek-chat").gateway_name == "ds"
    assert Provider.objects.get(name="openrouter").api_key.reveal() == OPENAI_KEY
    assert not Provider.objects.filter(name="claude").exists()
    for key in (OPENAI_KEY, OPENROUTER_KEY, ANTHROPIC_KEY):
        assert_keyless(shown, key)


def test_an_api_yaml_switchboard_wrote_imports_back_into_an_empty_catalogue(
    tmp_path: Path, catalogue: None, capsys: pytest.CaptureFixture
) -> None:
    UniApiTarget(path=str(tmp_path / "api.yaml")).save()
    sync.perform(runs.begin(target="uniapi", dry_run=False, user=None))
    before = sorted(LLMModel.objects.values_list("model_id", "gateway_name"))
    LLMModel.objects.all().delete()
    Provider.objects.all().delete()

    imported("--from-api-yaml", str(tmp_path / "api.yaml"), "--apply", capsys=capsys)

    assert sorted(LLMModel.objects.values_list("model_id", "gateway_name")) == before
    anthropic = Provider.objects.get(name="anthropic")
    assert (anthropic.protocol, anthropic.base_url) == ("anthropic", "https://api.anthropic.com")
    assert Provider.objects.get(name="openai").base_url == "https://api.openai.com/v1"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("providers: [a, b\n", "This is not YAML at line"),
        ("just: text\n", "has no `providers` list"),
        ("a: &x [1, 2]\nb: [*x, *x, *x]\nproviders: []\n", "uses YAML aliases"),
        ("providers:\n  - base_url: https://x\n", "providers[1] has no provider name"),
        (
            "providers:\n  - provider: p\n    base_url: https://x/v1/chat/completions\n"
            "    model:\n      - [1, 2]\n",
            "providers[1]: [1, 2] is not a model entry",
        ),
    ],
)
def test_a_broken_api_yaml_is_refused_saying_where(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(text)

    with pytest.raises(CommandError, match=says.replace("[", r"\[").replace("]", r"\]")):
        call_command("import_gateway", "--from-api-yaml", str(path))
    assert Provider.objects.count() == 0


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot be read: No such file"):
        call_command("import_gateway", "--from-api-yaml", str(tmp_path / "nope.yaml"))


def test_the_page_shows_an_uploaded_file_s_import_then_applies_it_when_confirmed(
    staff_client: Client,
) -> None:
    text = (
        "providers:\n"
        "  - provider: groq\n"
        "    base_url: https://api.groq.com/openai/v1/chat/completions\n"
        f"    api: {OPENAI_KEY}\n"
        "    model:\n"
        "      - llama-3.3-70b-versatile: llama-70b\n"
    )
    upload = SimpleUploadedFile("api.yaml", text.encode())
    url = reverse("gateways:import")

    shown = staff_client.post(url, {"source": "api_yaml", "file": upload}).content.decode()

    assert "1 change, 0 conflicts" not in shown  # a provider and its model: two
    assert "2 changes, 0 conflicts" in shown
    assert "llama-3.3-70b-versatile as llama-70b" in shown
    assert_keyless(shown.replace(html.escape(text), ""), OPENAI_KEY, shows="create provider")
    assert Provider.objects.count() == 0
    applied = staff_client.post(
        url, {"source": "api_yaml", "text": text, "apply": "1"}, follow=True
    ).content.decode()

    assert "2 change(s) made" in applied
    groq = Provider.objects.get(name="groq")
    assert groq.base_url == "https://api.groq.com/openai/v1"
    assert groq.models.get().gateway_name == "llama-70b"


def test_the_page_refuses_a_binary_upload_and_non_staff(
    staff_client: Client, client: Client, user
) -> None:
    upload = SimpleUploadedFile("api.yaml", b"\xff\xfe\x00binary")

    page = staff_client.post(
        reverse("gateways:import"), {"source": "api_yaml", "file": upload}, follow=True
    )

    assert "This file is not text (UTF-8)" in page.content.decode()
    client.force_login(user)
    assert client.post(reverse("gateways:import"), {"source": "gptload"}).status_code == 404
