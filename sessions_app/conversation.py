"""What goes upstream with a message: the model's system prompt, then as much of the
conversation as fits the model's context budget, newest turns first."""

from __future__ import annotations

from providers.models import LLMModel
from providers.runners.base import ChatMessage, ChatRequest
from sessions_app.models import Message, Role, Status

# The budget when a model sets no "context_tokens": small enough for every current model.
DEFAULT_CONTEXT_TOKENS = 16_000


def estimate_tokens(text: str) -> int:
    # About four characters a token for English; an estimate is enough to stay under a budget.
    return len(text) // 4 + 1


def build_request(reply: Message, model: LLMModel) -> tuple[ChatRequest, int]:
    """The request asking `model` to answer `reply`'s question (the model chosen for it, or
    a fallback), and how many earlier turns were left out."""
    settings = dict(model.settings or {})
    settings.pop("max_answer_chars", None)  # Switchboard's own limit, not the upstream's
    budget = settings.pop("context_tokens", DEFAULT_CONTEXT_TOKENS)
    budget -= estimate_tokens(settings.get("system_prompt", ""))
    earlier = (
        reply.session.messages.filter(
            role__in=[Role.USER, Role.ASSISTANT],
            status__in=[Status.DONE, Status.STOPPED, Status.ERROR],
            created_at__lte=reply.created_at,
        )
        .exclude(pk=reply.pk)
        .exclude(content="")
        .order_by("created_at", "id")
    )
    turns: list[ChatMessage] = []
    for m in earlier:
        if turns and m.role == Role.ASSISTANT and turns[-1].role == Role.ASSISTANT:
            turns.pop()  # a regenerated answer replaces the one before it
        turns.append(ChatMessage(m.role, m.content))
    kept: list[ChatMessage] = []
    for turn in reversed(turns):  # the question itself is newest, and always goes
        cost = estimate_tokens(turn.content)
        if kept and cost > budget:
            break
        kept.insert(0, turn)
        budget -= cost
    while len(kept) > 1 and kept[0].role != Role.USER:  # a conversation opens with a question
        kept.pop(0)
    return ChatRequest(model.model_id, tuple(kept), settings), len(turns) - len(kept)
