from __future__ import annotations

import pytest

from providers.tests.factories import (
    OPENROUTER_KEY,
    make_anthropic_provider,
    make_model,
    make_openrouter,
    make_provider,
)


@pytest.fixture
def catalogue() -> None:
    """gpt-4o offered by OpenAI and OpenRouter (an aggregate in GPT-Load); the other names by
    one provider each, one of them renamed (gpt-4.1-mini as fast), one over Anthropic."""
    openai = make_provider()
    make_model(openai, model_id="gpt-4o")
    make_model(openai, model_id="gpt-4.1-mini", gateway_name="fast")
    openrouter = make_openrouter(api_key=OPENROUTER_KEY)
    make_model(openrouter, model_id="openai/gpt-4o", gateway_name="gpt-4o")
    make_model(openrouter, model_id="deepseek/deepseek-chat", gateway_name="deepseek-chat")
    make_model(make_anthropic_provider(), model_id="claude-sonnet-4")
