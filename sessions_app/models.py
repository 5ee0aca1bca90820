"""Chat sessions and their messages, kept as an audit trail of who asked which model what.

A message keeps snapshots of the model and provider that answered, so the record
survives the model's deletion (its foreign key is then null). Fields that change
together change in one method here: a turn starts in ChatSession.start_turn(), and an
answer moves pending → streaming (Message.claim(), once) → done / error / stopped
(Message.finish(), which stores its sanitized HTML too, so no page renders it again).
A chat's messages form a tree (Message.parent, sessions_app/branches.py): a turn, an
edited question (ChatSession.edit()) and an answer asked for again (answer_again())
each move the session's current leaf, the end of the branch shown and continued.
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
from sessions_app import branches, rendering

# As long as a model's own system prompt may be (providers/validators.py).
SYSTEM_PROMPT_MAX_CHARS = 20_000


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
    current_leaf = models.ForeignKey(
        "Message",
        # Messages go only with their session, which goes with them; no per-row
        # cascade or SET NULL is needed, and none keeps a chat's deletion one query.
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where the branch shown ends: the conversation continues from here.",
    )
    system_prompt = models.TextField(
        blank=True,
        max_length=SYSTEM_PROMPT_MAX_CHARS,
        help_text="Sent with every question of this chat, after the model's own.",
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
        """Save the question after the branch shown and a pending answer from `model`;
        the model becomes current."""
        # Part of Send's transaction, which rolls back whole on a failure: no savepoint.
        with transaction.atomic(savepoint=False):
            leaf_id = self._lock()
            question, reply = self._turn(content, model, after_id=leaf_id)
            if not self.title:
                self.title = title_from(content)
            self.save(update_fields=["current_model", "current_leaf", "title", "updated_at"])
        return question, reply

    def edit(self, question: Message, *, content: str, model: LLMModel) -> tuple[Message, Message]:
        """Send `question` again as `content`: a new version of it, with its own answer,
        the branch shown from now on; the old one stays, with all that followed it."""
        if question.role != Role.USER or question.session_id != self.pk:
            raise EditError("Only a question of this chat can be edited.")
        with transaction.atomic(savepoint=False):  # as start_turn's
            self._lock()
            question, reply = self._turn(content, model, after_id=question.parent_id)
            self.save(update_fields=["current_model", "current_leaf", "updated_at"])
        return question, reply

    def answer_again(self, answer: Message, *, model: LLMModel) -> Message:
        """A new version of `answer` (Regenerate, Retry): a pending answer to its question.

        Only the answer the conversation ends at, once finished, may be redone (to branch
        off earlier, edit the question); the old answer stays as the version before."""
        with transaction.atomic():
            leaf_id = self._lock()
            # Read under the lock, not from `answer`: the caller's copy may be stale.
            latest = self.messages.filter(pk=answer.pk, role=Role.ASSISTANT).first()
            if latest is None or latest.pk != leaf_id or latest.is_open:
                raise AnswerAgainError("Only the last, finished answer can be answered again.")
            reply = self._pending_answer(model, question_id=latest.parent_id)
            self.current_model = model
            self.current_leaf = reply
            self.save(update_fields=["current_model", "current_leaf", "updated_at"])
        return reply

    def show(self, message: Message) -> None:
        """Show the branch through `message` (another version chosen): the conversation
        continues from there."""
        self.current_leaf = self.tree().leaf_below(message)
        self.save(update_fields=["current_leaf"])

    def tree(self) -> branches.Tree[Message]:
        """The chat's messages as a tree, with only what finding a branch needs."""
        return branches.Tree(self.messages.only("public_id", "parent_id", "role", "session_id"))

    def messages_to_show(self, *, through: uuid.UUID | None = None) -> list[Message]:
        """The branch shown, in order, each message with its `versions` and each finished
        answer with its HTML current; the branch through the message `through` when it
        is on another (a search result opened), which is then the one shown.

        Answers whose stored HTML another renderer made, or none, are rendered here and
        stored back in one query, so a chat pays for a renderer change once, not on
        every view."""
        # Without the audit fields no page shows: converting them was a fifth of the
        # query's time for a long chat.
        tree = branches.Tree(self.messages.defer(*_AUDIT_ONLY))
        messages = tree.branch(tree.find(self.current_leaf_id))
        wanted = next((m for m in tree if m.public_id == through), None) if through else None
        if wanted is not None and wanted not in messages:
            self.current_leaf = tree.leaf_below(wanted)
            self.save(update_fields=["current_leaf"])
            messages = tree.branch(self.current_leaf)
        for message in messages:
            message.versions = tree.versions(message)
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

    def _lock(self) -> int | None:
        """One change of the tree at a time per session, so each reads the messages the
        one before it wrote; returns the current leaf and reads the system prompt as they
        are under the lock. Locking the newest message is not enough: under READ
        COMMITTED a second transaction waiting on it re-reads only that row, never the
        answer the first one added. PostgreSQL takes the session's row lock here; SQLite
        ignores select_for_update, and its IMMEDIATE transactions (config/settings.py)
        already hold the write lock from BEGIN."""
        leaf_id, self.system_prompt = (
            ChatSession.objects.select_for_update()
            .filter(pk=self.pk)
            .values_list("current_leaf", "system_prompt")
            .get()
        )
        return leaf_id

    def _turn(
        self, content: str, model: LLMModel, *, after_id: int | None
    ) -> tuple[Message, Message]:
        question = self.messages.create(
            role=Role.USER, content=content, status=Status.DONE, parent_id=after_id
        )
        reply = self._pending_answer(model, question_id=question.pk)
        self.current_model = model
        self.current_leaf = reply
        return question, reply

    def _pending_answer(self, model: LLMModel, *, question_id: int | None) -> Message:
        # The snapshots keep the audit tag readable after the model is deleted, and the
        # chat's system prompt as it was asked with.
        return self.messages.create(
            role=Role.ASSISTANT,
            status=Status.PENDING,
            parent_id=question_id,
            llm_model=model,
            model_id=model.model_id,
            model_display_name=model.label,
            provider_name=model.provider.name,
            system_prompt=self.system_prompt,
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


class EditError(UserFacingError):
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
    parent = models.ForeignKey(
        "self",
        on_delete=models.DO_NOTHING,  # as ChatSession.current_leaf: they go with their session
        null=True,
        blank=True,
        related_name="+",
        help_text="The message this one follows: a question the answer before it, an "
        "answer its question (sessions_app/branches.py).",
    )
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
    system_prompt = models.TextField(
        blank=True, help_text="The chat's system prompt when this answer was asked for."
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
