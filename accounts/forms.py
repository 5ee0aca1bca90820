"""The personal settings page's forms."""

from __future__ import annotations

from django import forms

from providers.forms import KeyField, ModelChoiceMixin, ModelPickerField
from providers.validators import validate_api_key


class DefaultModelForm(ModelChoiceMixin):
    model = ModelPickerField(label="Default model", required=False, automatic=True)


class PersonalKeyForm(forms.Form):
    api_key = KeyField(label="API key", validators=[validate_api_key])
