"""Forms: the provider's write-only key input, model rows checked as a whole (admin), and
the model picker people use, which asks the access service: it offers only models the
person may use (providers.picker says which), and refuses one posted anyway with the
reason."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cached_property
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.forms.models import BaseInlineFormSet, BaseModelFormSet

from providers import access, picker
from providers.models import LLMModel, Provider, gateway_name_taken
from providers.presets import PRESETS


class PresetSelect(forms.Select):
    """The preset picker; carries each preset's defaults for static/js/preset_prefill.js."""

    class Media:
        js = ("js/preset_prefill.js",)

    def __init__(self, **kwargs: Any) -> None:
        defaults = {
            p.slug: {
                "label": p.label,
                "protocol": p.protocol,
                "base_url": p.base_url,
                "allow_private_network": p.allow_private_network,
            }
            for p in PRESETS.values()
        }
        super().__init__(attrs={"data-presets": json.dumps(defaults)}, **kwargs)


class KeyField(forms.CharField):
    """A write-only key input: it starts empty, and blank means "keep the stored key"."""

    widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})

    def has_changed(self, initial: Any, data: Any) -> bool:
        return bool(data)


class ProviderForm(forms.ModelForm):
    api_key = KeyField(label="API key", required=False)
    clear_api_key = forms.BooleanField(label="Clear stored key", required=False)

    class Meta:
        model = Provider
        fields = [
            "name",
            "preset",
            "protocol",
            "base_url",
            "allow_private_network",
            "enabled",
            "allow_personal_keys",
            "api_key",
            "settings",
        ]
        widgets = {"preset": PresetSelect}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = self.instance.masked_key()
        self.fields["api_key"].help_text = (
            f"Stored: {stored}. Leave blank to keep it." if stored else "No key stored."
        )
        # Left blank, the preset's URL is used (the page prefills it when JS runs).
        self.fields["base_url"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("base_url") and cleaned.get("preset") in PRESETS:
            cleaned["base_url"] = PRESETS[cleaned["preset"]].base_url
        if cleaned.get("api_key") and cleaned.get("clear_api_key"):
            self.add_error("clear_api_key", "Enter a new key or clear the stored one, not both.")
        elif not cleaned.get("api_key"):
            # The stored Secret itself goes back, still sealed: it was not re-entered.
            cleaned["api_key"] = "" if cleaned.get("clear_api_key") else self.instance.api_key
        return cleaned


class ModelRowForm(forms.ModelForm):
    """A model as one row of a formset, whose formset checks the one-default and the
    gateway name rules."""

    def _get_validation_exclusions(self) -> set[str]:
        # Checked per row, unticking the old default and ticking a new one in the same
        # submission (or swapping two gateway names) would fail on whichever row is
        # validated first.
        return super()._get_validation_exclusions() | {"is_default", "gateway_name"}


class _ChecksRowsTogether:
    """Checks the rows as they will be once saved: at most one default per provider, and
    no gateway name twice in one provider."""

    forms: list[forms.ModelForm]

    def _check_rows(self) -> None:
        self._check_one_default()
        self._check_gateway_names()

    def _check_gateway_names(self) -> None:
        rows = [f for f in self.forms if getattr(f, "cleaned_data", None)]
        submitted = [f.instance.pk for f in rows if f.instance.pk]
        kept = [
            f.instance
            for f in rows
            if not f.cleaned_data.get("DELETE") and not f.instance.is_deleted
        ]
        stored = (
            LLMModel.objects.live()
            .filter(provider_id__in={m.provider_id for m in kept if m.provider_id})
            .exclude(pk__in=submitted)
            .select_related("provider")
        )
        holders: dict[tuple[Any, str], LLMModel] = {}
        problems = []
        for model in [*stored, *kept]:
            key = (model.provider_id, model.effective_gateway_name)
            if other := holders.get(key):
                problems.append(f"{model.model_id}: {gateway_name_taken(key[1], other)}")
            else:
                holders[key] = model
        if problems:
            raise ValidationError(problems)

    def _check_one_default(self) -> None:
        rows = [f for f in self.forms if getattr(f, "cleaned_data", None)]
        submitted = [f.instance.pk for f in rows if f.instance.pk]
        kept = [f.instance for f in rows if not f.cleaned_data.get("DELETE")]
        defaults: dict[Any, list[Model]] = {}
        for model in kept:
            if model.is_default:
                defaults.setdefault(model.provider_id, []).append(model)
        stored = LLMModel.objects.filter(
            provider_id__in=[p for p in defaults if p is not None], is_default=True
        ).exclude(pk__in=submitted)
        for model in stored:
            defaults[model.provider_id].append(model)
        problems = [
            f"{_provider_name(models)} can have only one default model, but these are all "
            f"marked: {', '.join(sorted(m.label for m in models))}."
            for models in defaults.values()
            if len(models) > 1
        ]
        if problems:
            raise ValidationError(problems)


def _provider_name(models: list[Model]) -> str:
    # Rows of a provider being added have no provider yet.
    return next((m.provider.name for m in models if m.provider_id), "A provider")


class ModelChangelistFormSet(_ChecksRowsTogether, BaseModelFormSet):
    def clean(self) -> None:
        super().clean()
        self._check_rows()


class ModelInlineFormSet(_ChecksRowsTogether, BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        self._check_rows()


class ModelPickerField(forms.TypedChoiceField):
    """A model's pk. Whether a posted one may be used is the access service's call
    (ModelChoiceMixin.clean_model); what the picker offers is the form's model_offer,
    drawn by providers/partials/model_picker.html."""

    def __init__(self, *, automatic: bool = False, **kwargs: Any) -> None:
        super().__init__(coerce=int, **kwargs)
        self.automatic = automatic  # offers "Automatic (your tier's default)", posting nothing

    def valid_value(self, value: Any) -> bool:
        return True  # checked in clean_model, with a reason instead of "invalid choice"


class ModelChoiceMixin(forms.Form):
    """The picker's model, checked against what the user may use (see providers.access).

    Validating a post asks access.grant about the one posted id and nothing else; what
    the picker offers is worked out only when the form is drawn (model_offer).
    """

    def __init__(self, *args: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.grant: access.Grant | None = None  # the posted model's, once it is valid

    @cached_property
    def model_offer(self) -> picker.Offer:
        return picker.offer(
            self.user,
            selected=_pk(self["model"].value()),
            keep=self.models_to_keep,
            automatic=self.fields["model"].automatic,
        )

    def models_to_keep(self) -> Iterable[int]:
        """Models a shortlisted picker keeps besides the selected one and the defaults;
        asked only when the catalogue is too long to offer whole."""
        return ()

    def clean_model(self) -> LLMModel | None:
        pk = self.cleaned_data.get("model")
        if pk in (None, ""):
            return None
        try:
            self.grant = access.grant(self.user, pk)
        except access.ModelUnavailableError as error:
            raise forms.ValidationError(error.user_message) from None
        return self.grant.model


def _pk(value: Any) -> int | None:
    """The picker's value as a pk: an int as initial, a string as posted, or nothing."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
