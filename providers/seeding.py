"""Adding the built-in providers, with their starter models and any keys from the env."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from providers.models import LLMModel, ModelSource, Provider
from providers.presets import BUILTIN_PRESETS, Preset


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    keys_stored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def seed_providers(*, api_keys: Mapping[str, str]) -> SeedReport:
    """Add each built-in provider that is missing; leave existing ones as people left them.

    `api_keys` maps preset slugs to keys (from `<PRESET>_API_KEY`). A key is stored on a
    new provider, which is then enabled, or on an existing one that has no key yet; a key
    someone entered is never replaced. A new provider without a key starts disabled, the
    keyless Ollama included.
    """
    report = SeedReport()
    with transaction.atomic():  # a bad key stops the seed with nothing half-done
        _seed(api_keys, report)
    return report


def _seed(api_keys: Mapping[str, str], report: SeedReport) -> None:
    for preset in BUILTIN_PRESETS:
        key = api_keys.get(preset.slug, "")
        existing = Provider.objects.filter(preset=preset.slug, is_builtin=True).first()
        if existing is None:
            _create(preset, key, report)
        else:
            report.skipped.append(existing.name)
            if key and not existing.api_key:
                _store_key(existing, key, report)


def _create(preset: Preset, key: str, report: SeedReport) -> None:
    provider = Provider(
        name=preset.label,
        preset=preset.slug,
        protocol=preset.protocol,
        base_url=preset.base_url,
        api_key=key,
        allow_private_network=preset.allow_private_network,
        # Off until it has a key, so no model that cannot answer is preselected. A keyless
        # one (Ollama) stays off too: nothing may listen on its address; staff verify it
        # and switch it on (the chat's empty state and the verify message say how).
        enabled=bool(key),
        is_builtin=True,
    )
    _check(provider, exclude=["name"])  # a clash on name is handled below, as a skip
    warning = provider.key_warning()
    try:
        with transaction.atomic():
            provider.save()
            LLMModel.objects.bulk_create(
                LLMModel(
                    provider=provider,
                    model_id=model_id,
                    is_default=position == 0,
                    source=ModelSource.PRESET,
                )
                for position, model_id in enumerate(preset.starter_models)
            )
    except IntegrityError:
        # Someone else's provider has this name, or a concurrent seed got here first.
        report.skipped.append(preset.label)
        return
    report.created.append(provider.name)
    if key:
        report.keys_stored.append(provider.name)
    if warning:
        report.warnings.append(f"{provider.name}: {warning}")


def _store_key(provider: Provider, key: str, report: SeedReport) -> None:
    provider.api_key = key
    _check(provider)
    warning = provider.key_warning()
    # Conditional on the column still being empty: a key entered meanwhile wins.
    stored = Provider.objects.filter(pk=provider.pk, api_key="").update(api_key=provider.api_key)
    if stored:
        report.keys_stored.append(provider.name)
        if warning:
            report.warnings.append(f"{provider.name}: {warning}")
        if not provider.enabled:
            report.warnings.append(f"{provider.name}: key stored; enable it in the admin.")


def _check(provider: Provider, *, exclude: list[str] | None = None) -> None:
    try:
        provider.full_clean(exclude=exclude)
    except ValidationError as e:
        env_var = provider.preset_info.key_env_var
        raise ValidationError(f"{provider.name} ({env_var}): {' '.join(e.messages)}") from None


def first_steps(user: AbstractBaseUser) -> dict:
    """For staff facing a Switchboard no model can answer yet (the chat page, the Models
    page: providers/partials/first_steps.html): the Ollama provider to verify and switch
    on, and the model its check will ask for (what `ollama pull` must fetch)."""
    if not user.is_staff:
        return {}
    ollama = Provider.objects.filter(preset="ollama").first()
    model = ollama.verification_model() if ollama else None
    return {"ollama": ollama, "ollama_model": model.model_id if model else ""}
