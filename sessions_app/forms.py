"""Forms of the chat pages."""

from __future__ import annotations

from django import forms

from providers.forms import ModelChoiceMixin, ModelPickerField


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
