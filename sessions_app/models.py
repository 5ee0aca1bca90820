"""Chat sessions and their messages, kept as an audit trail of who asked which model what.

A message keeps snapshots of the model and provider that answered, so the record
survives the model's deletion (its foreign key is then null). Fields that change
together change in one method here: a turn starts in ChatSession.start_turn(), and an
answer moves pending → streaming (Message.claim(), once) → done / error / stopped
(Message.finish(), which stores its sanitized HTML too, so no page renders it again).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models, transaction
from django.db.models import Value
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from providers.errors import UserFacingError
from providers.models import LLMModel
from sessions_app import rendering


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
        return self.title or "New chat"

    def get_absolute_url(self) -> str:
        return reverse("sessions_app:session", args=[self.public_id])

    def start_turn(self, *, content: str, model: LLMModel) -> tuple[Message, Message]:
        """Save the question and a pending answer from `model`; the model becomes current."""
        with transaction.atomic():
            self._lock()
            question = self.messages.create(role=Role.USER, content=content, status=Status.DONE)
            reply = self._pending_answer(model)
            self.current_model = model
            if not self.title:
                self.title = title_from(content)
            self.save(update_fields=["current_model", "title", "updated_at"])
        return question, reply

    def answer_again(self, answer: Message, *, model: LLMModel) -> Message:
        """A new pending answer to the question `answer` answered (Regenerate, Retry).

        Only the latest answer may be redone, so a conversation never branches; the old
        answer stays in the record, and only the newest goes upstream with later turns.
        """
        with transaction.atomic():
            self._lock()
            # Read under the lock, not from `answer`: the caller's copy may be stale.
            latest = self.messages.order_by("-created_at", "-id").first()
            if latest != answer or latest.role != Role.ASSISTANT or latest.is_open:
                raise AnswerAgainError("Only the last, finished answer can be answered again.")
            reply = self._pending_answer(model)
            self.current_model = model
            self.save(update_fields=["current_model", "updated_at"])
        return reply

    def messages_to_show(self) -> list[Message]:
        """The messages in order, each finished answer with its HTML current. Answers whose
        stored HTML another renderer made, or none, are rendered here and stored back in
        one query, so a chat pays for a renderer change once, not on every view."""
        # Without the audit fields no page shows: converting them was a fifth of the
        # query's time for a long chat.
        messages = list(self.messages.defer(*_AUDIT_ONLY))
        stale = [
            m
            for m in messages
            if m.role == Role.ASSISTANT
            and not m.is_open
            and m.content_html_renderer != rendering.RENDERER
        ]
        for message in stale:
            message.render_html()
        # A finished answer's text never changes again (every write to it requires
        # "streaming"), so this cannot store the HTML of an older text. bulk_update leaves
        # updated_at alone: followers read it as the stream's heartbeat.
        Message.objects.bulk_update(
            stale, ["content_html", "content_html_renderer"], batch_size=100
        )
        return messages

    def _lock(self) -> None:
        """One turn or answer again at a time per session, so each reads the messages the
        one before it wrote. Locking the newest message is not enough: under READ
        COMMITTED a second transaction waiting on it re-reads only that row, never the
        answer the first one added. PostgreSQL takes the session's row lock here; SQLite
        ignores select_for_update, and its IMMEDIATE transactions (config/settings.py)
        already hold the write lock from BEGIN."""
        ChatSession.objects.select_for_update().filter(pk=self.pk).first()

    def _pending_answer(self, model: LLMModel) -> Message:
        # The snapshots keep the audit tag readable after the model is deleted.
        return self.messages.create(
            role=Role.ASSISTANT,
            status=Status.PENDING,
            llm_model=model,
            model_id=model.model_id,
            model_display_name=model.label,
            provider_name=model.provider.name,
        )


_AUDIT_ONLY = (
    "llm_model",
    "cached_tokens",
    "stop_requested",
    "created_at",
    "updated_at",
)


class AnswerAgainError(UserFacingError):
    pass


def title_from(content: str) -> str:
    """The first line of the first question, cut at a word near 60 characters."""
    line = " ".join(content.split())
    if len(line) <= 60:
        return line
    return line[:60].rsplit(" ", 1)[0] + "…"


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
    content_html = models.TextField(
        blank=True, editable=False, help_text="The finished answer as sanitized HTML."
    )
    content_html_renderer = models.CharField(
        max_length=16,
        blank=True,
        editable=False,
        help_text="The renderer that made content_html (rendering.RENDERER); HTML another "
        "one made is made again before it is shown.",
    )
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
    stop_requested = models.BooleanField(default=False)
    used_personal_key = models.BooleanField(
        default=False, help_text="Answered with the person's own key, not the team's."
    )
    turns_left_out = models.PositiveIntegerField(
        default=0, help_text="Earlier turns not sent, to fit the model's context budget."
    )
    attempts = models.JSONField(
        default=list,
        blank=True,
        help_text="Each model tried for this answer, in order, when more than one was.",
    )
    cost = models.DecimalField(
        max_digits=16,
        decimal_places=8,
        null=True,
        blank=True,
        help_text="What the answer's calls cost, in USAGE_CURRENCY; empty: no price set.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "created_at"])]

    def __str__(self) -> str:
        return f"{self.role} message {self.public_id}"

    @property
    def is_open(self) -> bool:
        return self.status in (Status.PENDING, Status.STREAMING)

    @property
    def html(self) -> SafeString:
        """The answer as sanitized HTML: as stored, when today's renderer made it."""
        if self.content_html_renderer != rendering.RENDERER:
            self.render_html()
        return mark_safe(self.content_html)  # noqa: S308 - sanitized by nh3 in render_markdown

    def render_html(self) -> None:
        self.content_html = rendering.render_markdown(self.content)
        self.content_html_renderer = rendering.RENDERER

    def request_stop(self) -> None:
        """Stop this answer, from any process: a pending one never starts; a streaming one
        stops at its stream's next checkpoint (streaming.CHECKPOINT_SECONDS), tokens or not."""
        Message.objects.filter(pk=self.pk, status=Status.PENDING).update(
            status=Status.STOPPED, error="Stopped before it started.", updated_at=timezone.now()
        )
        Message.objects.filter(pk=self.pk, status=Status.STREAMING).update(stop_requested=True)

    def claim(self) -> bool:
        """pending → streaming, for exactly one caller, in one conditional UPDATE.

        A reconnecting EventSource or a second tab can race the first connection; only
        the one that wins may call the provider.
        """
        claimed = Message.objects.filter(pk=self.pk, status=Status.PENDING).update(
            status=Status.STREAMING, updated_at=timezone.now()
        )
        if claimed:
            self.status = Status.STREAMING
        return bool(claimed)

    def checkpoint(self, new_text: str) -> bool:
        """Append the text that arrived since the last checkpoint and touch updated_at (the
        heartbeat followers read, text or not); True when this stream must end instead: a
        Stop came, or the answer is no longer this stream's (a follower found it silent
        past STALE_AFTER and marked it interrupted, so someone may retry it). One query
        either way; appending in SQL sends each part once, however long the answer."""
        fields: dict[str, object] = {"updated_at": timezone.now()}
        if new_text:
            fields["content"] = Concat("content", Value(new_text), output_field=models.TextField())
        saved = Message.objects.filter(
            pk=self.pk, status=Status.STREAMING, stop_requested=False
        ).update(**fields)
        return not saved

    def finish(self, *, status: str, content: str, error: str = "", **audit: object) -> None:
        """The answer's end: its final text and its HTML, how it ended, and the numbers for
        the audit.

        Only while the answer is still this stream's: one marked interrupted meanwhile
        keeps that end (and its retry), and this copy is refreshed to show it. Called in
        the stream's database trip, so a long answer's rendering is not the event loop's."""
        fields = {
            "status": status,
            "content": content,
            "content_html": rendering.render_markdown(content),
            "content_html_renderer": rendering.RENDERER,
            "error": error,
            **audit,
        }
        ended = Message.objects.filter(pk=self.pk, status=Status.STREAMING).update(
            updated_at=timezone.now(), **fields
        )
        if ended:
            for name, value in fields.items():
                setattr(self, name, value)
        else:
            self.refresh_from_db()
