"""Forms of the chat pages."""

from __future__ import annotations

from typing import Any

from django import forms

from providers.models import LLMModel


class ModelChoiceField(forms.ModelChoiceField):
    """Options grouped by provider (one optgroup each), labelled with display names."""

    def label_from_instance(self, obj: LLMModel) -> str:
        return obj.label


def model_choices(queryset: Any) -> list[tuple[str, list[tuple[int, str]]]]:
    groups: dict[str, list[tuple[int, str]]] = {}
    for model in queryset:
        groups.setdefault(model.provider.name, []).append((model.pk, model.label))
    return list(groups.items())


class MessageForm(forms.Form):
    content = forms.CharField(
        label="Message",
        max_length=100_000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Ask anything…"}),
        error_messages={"required": "Type a message first."},
    )
    model = ModelChoiceField(
        label="Model",
        queryset=LLMModel.objects.none(),
        error_messages={"invalid_choice": "That model is not available any more; pick another."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        usable = LLMModel.objects.usable().order_by("provider__name", "-is_default", "model_id")
        self.fields["model"].queryset = usable
        self.fields["model"].choices = model_choices(usable)


class RenameForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200, strip=True)


class AnswerAgainForm(forms.Form):
    """Regenerate sends the picker's model; Retry sends none and keeps the answer's own."""

    model = forms.ModelChoiceField(queryset=LLMModel.objects.all(), required=False)
