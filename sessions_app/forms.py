"""Forms of the chat pages. The model picker asks the registry, so it lists exactly the
models this person may use, and a model posted anyway is refused with the reason."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser

from providers import registry
from providers.models import LLMModel


class ModelPickerField(forms.TypedChoiceField):
    """One optgroup per provider; whether a posted id may be used is the registry's call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(coerce=int, **kwargs)

    def valid_value(self, value: Any) -> bool:
        return True  # checked in clean_model, with a reason instead of "invalid choice"


def picker_choices(models: Any) -> list[tuple[str, list[tuple[int, str]]]]:
    groups: dict[str, list[tuple[int, str]]] = {}
    for model in models:
        groups.setdefault(model.provider.name, []).append((model.pk, model.label))
    return list(groups.items())


class ModelChoiceMixin(forms.Form):
    """The picker's model, checked against what the user may use (see registry)."""

    def __init__(self, *args: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.available = registry.available_models(user).order_by(
            "provider__name", "-is_default", "model_id"
        )
        self.fields["model"].choices = picker_choices(self.available)

    def clean_model(self) -> LLMModel | None:
        pk = self.cleaned_data.get("model")
        if pk in (None, ""):
            return None
        try:
            return registry.model_for(self.user, pk)
        except registry.ModelUnavailableError as error:
            raise forms.ValidationError(error.user_message) from None


class MessageForm(ModelChoiceMixin):
    content = forms.CharField(
        label="Message",
        max_length=100_000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Ask anything…"}),
        error_messages={"required": "Type a message first."},
    )
    model = ModelPickerField(label="Model", error_messages={"required": "Pick a model."})


class AnswerAgainForm(ModelChoiceMixin):
    """Regenerate sends the picker's model; Retry sends none and keeps the answer's own."""

    model = ModelPickerField(required=False)


class ChooseModelForm(ModelChoiceMixin):
    model = ModelPickerField()


class RenameForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200, strip=True)
