"""Plain factory functions for registry rows; keyword overrides only."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from fakes.upstream import FakeUpstream
from providers.models import LLMModel, Provider, Tier

# Fake, but shaped like real keys (prefix, length) so the leak checks mean something; the
# dots keep secret scanners from taking them for real ones.
OPENAI_KEY = "sk-proj-FAKE.Qm9vX2Zha2V.test.1234"
ANTHROPIC_KEY = "sk-ant-api03-FAKE.ZmFrZV9h.test.5876"
PERSONAL_KEY = "sk-FAKE.YWxpY2Vz.personal.0042"  # a person's own, beside the team's
OPENROUTER_KEY = "sk-or-v1-FAKE.b3BlbnJvdXRlcg.test.7777"


def build_provider(**overrides: Any) -> Provider:
    """An enabled OpenAI provider with a key, not yet validated or saved."""
    fields: dict[str, Any] = {
        "name": "OpenAI",
        "preset": "openai",
        "protocol": "openai",
        "base_url": "https://api.openai.com/v1",
        "api_key": OPENAI_KEY,
        "enabled": True,
    } | overrides
    return Provider(**fields)


def make_provider(**overrides: Any) -> Provider:
    provider = build_provider(**overrides)
    provider.full_clean()
    provider.save()
    return Provider.objects.get(pk=provider.pk)  # as loaded: the key sealed


def make_anthropic_provider(**overrides: Any) -> Provider:
    fields = {
        "name": "Anthropic",
        "preset": "anthropic",
        "protocol": "anthropic",
        "base_url": "https://api.anthropic.com",
        "api_key": ANTHROPIC_KEY,
    } | overrides
    return make_provider(**fields)


def make_openrouter(**overrides: Any) -> Provider:
    """An OpenAI-compatible aggregator: its model ids carry the vendor (deepseek/deepseek-chat),
    the shape gateway names exist for."""
    fields = {
        "name": "OpenRouter",
        "preset": "openrouter",
        "base_url": "https://openrouter.ai/api/v1",
    } | overrides
    return make_provider(**fields)


def make_model(provider: Provider, **overrides: Any) -> LLMModel:
    fields: dict[str, Any] = {"provider": provider, "model_id": "gpt-4o"} | overrides
    model = LLMModel(**fields)
    model.full_clean()
    model.save()
    return model


def make_fake_provider(upstream: FakeUpstream, **overrides: Any) -> Provider:
    """A provider pointed at the fake upstream on loopback, speaking `protocol`."""
    anthropic = overrides.get("protocol") == "anthropic"
    fields: dict[str, Any] = {
        "name": "Fake Anthropic" if anthropic else "Fake OpenAI",
        "preset": "custom",
        "base_url": upstream.anthropic_base_url if anthropic else upstream.base_url,
        "allow_private_network": True,
        "api_key": ANTHROPIC_KEY if anthropic else OPENAI_KEY,
    } | overrides
    return make_provider(**fields)


def make_catalogue(
    *, providers: int = 10, models: int = 200, upstream: FakeUpstream | None = None
) -> None:
    """Issue 12's big catalogue: `providers` providers "Provider 00"… (on the fake
    upstream, if given), each with `models` models, model id "model-07-117" named
    "Model 07-117". Inserted in bulk, unchecked: full_clean on 2,000 rows takes seconds."""
    make = partial(make_fake_provider, upstream) if upstream else make_provider
    for p in range(providers):
        provider = make(name=f"Provider {p:02}")
        LLMModel.objects.bulk_create(
            LLMModel(
                provider=provider,
                model_id=f"model-{p:02}-{m:03}",
                display_name=f"Model {p:02}-{m:03}",
            )
            for m in range(models)
        )


def make_tier(name: str, **fields: Any) -> Tier:
    tier = Tier.objects.create(name=name, **fields)
    tier.ensure_group()
    return tier


def join(user: AbstractBaseUser, tier: Tier) -> None:
    user.groups.add(tier.group)


# Base URLs the database holds but the HTTP client cannot use, as a row saved past the
# admin's checks may have: one the URL parser refuses, one refused only at connect time.
UNUSABLE_BASE_URLS = {
    "unclosed IPv6 bracket": ("http://[::1", "Its base URL does not parse: Invalid port: ':1'."),
    "port past 65535": ("http://127.0.0.1:99999/v1", "Its base URL's port, 99999, is past 65535."),
}


def break_base_url(
    provider: Provider, url: str = UNUSABLE_BASE_URLS["unclosed IPv6 bracket"][0]
) -> None:
    """Store `url` as it is, past every check, as a raw UPDATE would."""
    Provider.objects.filter(pk=provider.pk).update(base_url=url)
