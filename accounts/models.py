"""A person's own settings: their default model (their keys live with the registry:
providers.models.PersonalKey)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from providers.models import LLMModel


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
