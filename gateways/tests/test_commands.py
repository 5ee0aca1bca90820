"""`manage.py gateway_plan`: the page's plan, as text or JSON."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from providers.tests.factories import make_model, make_openrouter, make_provider

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("gateway_plan", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def catalogue() -> None:
    openrouter = make_openrouter()
    make_model(openrouter, model_id="deepseek/deepseek-chat", gateway_name="deepseek-chat")
    make_model(openrouter, model_id="openai/gpt-4o", gateway_name="gpt-4o")
    deepseek = make_provider(
        name="DeepSeek", preset="deepseek", base_url="https://api.deepseek.com/v1"
    )
    make_model(deepseek, model_id="deepseek-chat")


def test_the_json_plan_lists_groups_redirects_and_members(catalogue: None) -> None:
    plan = json.loads(run("--json"))

    groups = {g["name"]: g for g in plan["groups"]}
    assert list(groups) == [
        "openrouter",
        "deepseek-1-deepseek-chat",
        "openrouter-2-deepseek-chat",
        "deepseek-chat",
    ]
    assert groups["openrouter"]["redirects"] == {"gpt-4o": "openai/gpt-4o"}
    assert groups["openrouter"]["upstream"] == "https://openrouter.ai/api"
    assert groups["deepseek-chat"]["members"] == [
        {"group": "deepseek-1-deepseek-chat", "weight": 1},
        {"group": "openrouter-2-deepseek-chat", "weight": 1},
    ]
    assert plan["shared"] == {"deepseek-chat": ["DeepSeek", "OpenRouter"]}


def test_the_text_plan_reads_as_the_page_does(catalogue: None) -> None:
    text = run()

    assert "openrouter: OpenRouter (openai) at https://openrouter.ai/api" in text
    assert "    gpt-4o → openai/gpt-4o" in text
    assert (
        "deepseek-chat: aggregate (openai) serving deepseek-chat from "
        "deepseek-1-deepseek-chat (weight 1), openrouter-2-deepseek-chat (weight 1)"
    ) in text


def test_an_empty_catalogue_says_so() -> None:
    assert run() == "No groups: no enabled provider has a live, enabled model.\n"
    assert json.loads(run("--json")) == {"groups": [], "shared": {}, "notes": []}
