"""What goes upstream with a message: the model's system prompt and the chat's, then as
much of the message's branch of the conversation as fits the model's context budget,
newest turns first."""

from __future__ import annotations

from providers.models import LLMModel
from providers.runners.base import ChatMessage, ChatRequest
from sessions_app.branches import Tree
from sessions_app.models import Message, Role, Status

# The budget when a model sets no "context_tokens": small enough for every current model.
DEFAULT_CONTEXT_TOKENS = 16_000

# An answer still streaming (another turn's, sent meanwhile) has no text to send yet.
_ENDED = (Status.DONE, Status.STOPPED, Status.ERROR)


def estimate_tokens(text: str) -> int:
    # About four characters a token for English; an estimate is enough to stay under a budget.
    return len(text) // 4 + 1


def build_request(reply: Message, model: LLMModel) -> tuple[ChatRequest, int]:
    """The request asking `model` to answer `reply`'s question (the model chosen for it, or
    a fallback), and how many earlier turns were left out."""
    settings = dict(model.settings or {})
    settings.pop("max_answer_chars", None)  # Switchboard's own limit, not the upstream's
    budget = settings.pop("context_tokens", DEFAULT_CONTEXT_TOKENS)
    system = "\n\n".join(p for p in (settings.get("system_prompt"), reply.system_prompt) if p)
    if system:
        settings["system_prompt"] = system
    budget -= estimate_tokens(system)
    tree = Tree(
        Message.objects.filter(session_id=reply.session_id).only(
            "parent_id", "role", "content", "status"
        )
    )
    earlier = tree.branch(tree.find(reply.pk))[:-1]
    turns = [
        ChatMessage(m.role, m.content)
        for m in earlier
        if m.role in (Role.USER, Role.ASSISTANT) and m.status in _ENDED and m.content
    ]
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
