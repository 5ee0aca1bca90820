"""Discover a provider's models: ask its model list, then record what is new or gone.

New models arrive disabled — the admin enables the ones people should see — unless the
caller or the provider's `auto_enable_new_models` setting says otherwise. A model the
list no longer names is marked missing (missing_since), never deleted: messages and
settings still point at it. An empty or malformed list changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from providers import validators
from providers.errors import UserFacingError
from providers.models import LLMModel, ModelSource, Provider
from providers.runners.base import ProviderTarget, UpstreamModel
from providers.runners.router import open_runner


class DiscoveryError(UserFacingError):
    pass


@dataclass(frozen=True)
class DiscoverySummary:
    provider: Provider
    new: tuple[LLMModel, ...]
    missing: tuple[str, ...]
    unchanged: int
    skipped: tuple[str, ...]  # ids the list named that are not usable model ids
    # new ids another live model of the provider already serves as its gateway name
    name_taken: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        text = f"{len(self.new)} new, {len(self.missing)} missing, {self.unchanged} unchanged"
        if self.skipped:
            text += f", {len(self.skipped)} skipped (not valid model ids)"
        if self.name_taken:
            text += (
                f", {len(self.name_taken)} not added (another model here has that id as its "
                "gateway name: rename it first)"
            )
        return text


def fetch_models(provider: Provider, *, enable_new: bool | None = None) -> DiscoverySummary:
    """Ask the provider for its models and record them. Raises ProviderError (the call
    failed), UnreadableSecretError, or DiscoveryError (the list is unusable)."""
    listed = async_to_sync(_list_models)(provider.target())
    if not listed:
        raise DiscoveryError(f"{provider.name} listed no models; nothing was changed.")
    if enable_new is None:
        settings = provider.settings if isinstance(provider.settings, dict) else {}
        enable_new = bool(settings.get("auto_enable_new_models", False))
    return _record(provider, listed, enable_new=enable_new)


async def _list_models(target: ProviderTarget) -> list[UpstreamModel]:
    async with open_runner(target) as runner:
        return await runner.list_models()


@transaction.atomic
def _record(
    provider: Provider, listed: list[UpstreamModel], *, enable_new: bool
) -> DiscoverySummary:
    # One discovery per provider at a time: a second waits here, then sees the first's rows.
    Provider.objects.select_for_update().filter(pk=provider.pk).first()
    now = timezone.now()
    usable: dict[str, UpstreamModel] = {}
    skipped = []
    for model in listed:
        try:
            validators.validate_model_id(model.model_id)
        except ValidationError:
            skipped.append(model.model_id)
            continue
        if len(model.model_id) > LLMModel._meta.get_field("model_id").max_length:
            skipped.append(model.model_id)
            continue
        usable.setdefault(model.model_id, model)
    existing = set(provider.models.values_list("model_id", flat=True))
    # A new model's id is its gateway name until someone gives it another: one a live
    # model already serves would break the one-name-per-provider rule.
    served = set(
        provider.models.live().exclude(gateway_name="").values_list("gateway_name", flat=True)
    )
    name_taken = sorted((usable.keys() - existing) & served)
    new = LLMModel.objects.bulk_create(
        LLMModel(
            provider=provider,
            model_id=model_id,
            display_name=model.display_name[:200],
            enabled=enable_new,
            source=ModelSource.DISCOVERED,
            first_seen_at=now,
            last_seen_at=now,
        )
        for model_id, model in usable.items()
        if model_id not in existing and model_id not in served
    )
    seen = provider.models.filter(model_id__in=usable.keys() & existing)
    unchanged = seen.update(
        last_seen_at=now, missing_since=None, first_seen_at=Coalesce(F("first_seen_at"), Value(now))
    )
    gone = provider.models.exclude(model_id__in=usable.keys())
    gone.filter(missing_since__isnull=True).update(missing_since=now)
    provider.models_fetched_at = now
    provider.save(update_fields=["models_fetched_at", "updated_at"])
    return DiscoverySummary(
        provider=provider,
        new=tuple(new),
        missing=tuple(sorted(gone.values_list("model_id", flat=True))),
        unchanged=unchanged,
        skipped=tuple(skipped),
        name_taken=tuple(name_taken),
    )
