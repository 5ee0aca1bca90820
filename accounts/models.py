"""A person's own settings: their default model, and their own keys ("bring your own key")."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from providers.keys.encryption import Secret
from providers.keys.fields import EncryptedTextField
from providers.models import LLMModel, Provider


class PersonalSettings(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_settings"
    )
    default_model = models.ForeignKey(
        LLMModel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Preselected in a new chat; empty: your tier's default.",
    )

    class Meta:
        verbose_name_plural = "personal settings"

    def __str__(self) -> str:
        return f"Settings of {self.user}"


class PersonalKey(models.Model):
    """A person's own key for a provider, used for their messages instead of the team's
    while the provider allows personal keys."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_keys"
    )
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    api_key: Secret = EncryptedTextField("API key")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="one_personal_key_each")
        ]

    def __str__(self) -> str:
        return f"{self.user}'s key for {self.provider}"


def personal_key_for(user_id: int, provider: Provider) -> Secret | None:
    key = PersonalKey.objects.filter(user_id=user_id, provider=provider).first()
    return key.api_key if key else None
