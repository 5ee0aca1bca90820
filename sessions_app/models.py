"""Chat sessions and their messages, kept as an audit trail of who asked which model what.

The chat pages arrive in a later issue; the schema is here so the data model is whole.
A message keeps snapshots of the model and provider that answered, so the record
survives the model's deletion (its foreign key is then null).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from providers.models import LLMModel


class ChatSession(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_sessions"
    )
    title = models.CharField(max_length=200, blank=True)
    current_model = models.ForeignKey(
        LLMModel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The model used last; preselected when the session is reopened.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or f"Chat {self.public_id}"


class Role(models.TextChoices):
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"
    SYSTEM = "system", "System"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    STREAMING = "streaming", "Streaming"
    DONE = "done", "Done"
    ERROR = "error", "Error"
    STOPPED = "stopped", "Stopped"


class Message(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=20, choices=Role)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    llm_model = models.ForeignKey(
        LLMModel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    model_id = models.CharField(
        max_length=200, blank=True, help_text="The model id that answered, as sent upstream."
    )
    model_display_name = models.CharField(max_length=200, blank=True)
    provider_name = models.CharField(max_length=100, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    cached_tokens = models.PositiveIntegerField(null=True, blank=True)
    ttft_ms = models.PositiveIntegerField("time to first token (ms)", null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.JSONField(
        default=list,
        blank=True,
        help_text="Each model tried for this answer, in order, when a fallback ran.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "created_at"])]

    def __str__(self) -> str:
        return f"{self.role} message {self.public_id}"
