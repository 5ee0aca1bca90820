"""The personal settings page's forms."""

from __future__ import annotations

from django import forms

from providers.forms import KeyField, ModelChoiceMixin, ModelPickerField
from providers.validators import validate_api_key


class DefaultModelForm(ModelChoiceMixin):
    model = ModelPickerField(label="Default model", required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        automatic = ("", "Automatic (your tier's default)")
        self.fields["model"].choices = [automatic, *self.fields["model"].choices]


class PersonalKeyForm(forms.Form):
    api_key = KeyField(label="API key", validators=[validate_api_key])
