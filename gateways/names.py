"""Editing a provider's gateway names in a batch: renames, resets and deletions applied
all or nothing, each refused row named; and restoring a deleted model."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from providers import validators
from providers.errors import UserFacingError
from providers.models import LLMModel, Provider, gateway_name_taken


@dataclass(frozen=True)
class Edit:
    """A row's pending change: its new gateway name (None: unchanged; "" or the model id:
    back to the model id), or its deletion."""

    gateway_name: str | None = None
    delete: bool = False


@dataclass
class Outcome:
    renamed: list[LLMModel] = field(default_factory=list)
    deleted: list[LLMModel] = field(default_factory=list)

    def summary(self) -> str:
        """ "3 renames, 1 deletion", naming only the kinds there are."""
        parts = [
            _count(len(self.renamed), "rename", "renames"),
            _count(len(self.deleted), "deletion", "deletions"),
        ]
        return ", ".join(part for part in parts if part)


def _count(n: int, one: str, many: str) -> str:
    return "" if not n else f"{n} {one if n == 1 else many}"


class NamesRefused(UserFacingError):
    """Nothing was saved; `rows` maps a model's pk to why its change was refused, and
    `problems` lists what concerns the batch as a whole."""

    def __init__(self, rows: dict[int, str], problems: list[str] | None = None) -> None:
        self.rows = rows
        self.problems = problems or []
        super().__init__(" ".join(self.problems + list(rows.values())))


class DeletesEveryModel(NamesRefused):
    """The batch would leave the provider no live model, and that was not confirmed."""


def save(provider: Provider, edits: dict[int, Edit], *, every_model_confirmed: bool) -> Outcome:
    """Apply `edits` to `provider`'s models in one transaction, or raise NamesRefused
    with nothing changed."""
    with transaction.atomic():
        # One batch per provider at a time: checked and written under the same lock.
        Provider.objects.select_for_update().filter(pk=provider.pk).first()
        models = {m.pk: m for m in provider.models.select_related("provider")}
        rows: dict[int, str] = {}
        outcome = Outcome()
        final: dict[int, tuple[str, bool]] = {}  # pk → (gateway name, deleted)
        for pk, model in models.items():
            edit = edits.get(pk, Edit())
            name = model.gateway_name if edit.gateway_name is None else edit.gateway_name.strip()
            name = "" if name == model.model_id else name
            deleted = model.is_deleted or edit.delete
            final[pk] = (name, deleted)
            if edit.delete and not model.is_deleted:
                outcome.deleted.append(model)
            elif name != model.gateway_name and not deleted:
                try:
                    validators.validate_gateway_name(name)
                except ValidationError as error:
                    rows[pk] = f"{model.model_id}: {error.messages[0]}"
                outcome.renamed.append(model)
        for pk in edits.keys() - models.keys():
            rows[pk] = "This model no longer exists; reload the page."
        _check_unique(models, final, outcome, rows)
        if rows:
            raise NamesRefused(rows)
        if outcome.deleted and not every_model_confirmed and all(d for _, d in final.values()):
            raise DeletesEveryModel(
                {},
                [
                    f"This deletes every model of {provider.name}: the picker and the "
                    "gateways will offer none of them. Confirm that to go on."
                ],
            )
        try:
            _write(final, outcome)
        except IntegrityError:
            # Another writer took a name between the check and the write (not through
            # this lock: the admin, say).
            raise NamesRefused(
                {}, ["Another change took one of these names just now; nothing was saved."]
            ) from None
    for model in outcome.renamed:
        model.gateway_name = final[model.pk][0]
    return outcome


def _check_unique(
    models: dict[int, LLMModel],
    final: dict[int, tuple[str, bool]],
    outcome: Outcome,
    rows: dict[int, str],
) -> None:
    holders: dict[str, list[LLMModel]] = {}
    for pk, (name, deleted) in final.items():
        if not deleted:
            holders.setdefault(name or models[pk].model_id, []).append(models[pk])
    changed = {m.pk for m in outcome.renamed}
    for name, sharing in holders.items():
        for model in sharing:
            if model.pk in changed and len(sharing) > 1:
                other = next(m for m in sharing if m.pk != model.pk)
                rows.setdefault(model.pk, f"{model.model_id}: {gateway_name_taken(name, other)}")


def _write(final: dict[int, tuple[str, bool]], outcome: Outcome) -> None:
    now = timezone.now()
    LLMModel.objects.filter(pk__in=[m.pk for m in outcome.deleted]).update(
        deleted_at=now, updated_at=now
    )
    LLMModel.objects.filter(pk__in=[m.pk for m in outcome.renamed]).park_gateway_names()
    for model in outcome.renamed:
        LLMModel.objects.filter(pk=model.pk).update(gateway_name=final[model.pk][0], updated_at=now)
