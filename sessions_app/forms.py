"""Forms of the chat pages."""

from __future__ import annotations

from django import forms

from providers.forms import ModelChoiceMixin, ModelPickerField
from sessions_app.models import SYSTEM_PROMPT_MAX_CHARS, Message, Role
from usage import quotas

# A shortlisted picker keeps the models of the person's latest answers: up to eight
# distinct ones, found among their last 200 (a bound on the rows read, however long
# they have been chatting).
RECENT_MODELS = 8
RECENT_ANSWERS = 200


class MessageForm(ModelChoiceMixin):
    content = forms.CharField(
        label="Message",
        max_length=100_000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Ask anything…"}),
        error_messages={"required": "Type a message first."},
    )
    model = ModelPickerField(label="Model", error_messages={"required": "Pick a model."})

    def clean(self) -> dict:
        """A message past the person's quota is refused here, kept in the composer, rather
        than saved to fail; the answer's start decides for good (usage.quotas.reserve)."""
        cleaned = super().clean()
        if self.grant is not None and self.grant.personal_key is None:
            try:
                quotas.check(self.user.pk, list(self.grant.tiers))
            except quotas.QuotaExceededError as error:
                raise forms.ValidationError(error.user_message) from None
        return cleaned

    def models_to_keep(self) -> list[int]:
        """The models this person's latest answers came from, newest first."""
        latest = (
            Message.objects.filter(session__owner=self.user, role=Role.ASSISTANT)
            .order_by("-created_at", "-id")
            .values_list("llm_model", flat=True)[:RECENT_ANSWERS]
        )
        return list(dict.fromkeys(pk for pk in latest if pk is not None))[:RECENT_MODELS]


class AnswerAgainForm(ModelChoiceMixin):
    """Regenerate sends the picker's model; Retry sends none and keeps the answer's own."""

    model = ModelPickerField(required=False)


class ChooseModelForm(ModelChoiceMixin):
    model = ModelPickerField()


class RenameForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200, strip=True)


class SystemPromptForm(forms.Form):
    system_prompt = forms.CharField(
        label="System prompt",
        required=False,
        max_length=SYSTEM_PROMPT_MAX_CHARS,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class OpenMessageForm(forms.Form):
    """?message=<id> on a chat's page: the message to open it at."""

    message = forms.UUIDField(required=False)
