"""The models an answer may come from, and what each try of one used.

An answer starts with the model chosen for it. When a try fails before its first token
with an error another try can fix (FALLBACK_ON: a timeout, a connection error, a 429, a
5xx), the next model of the chosen one's fallback list that the person may use now is
tried at once; one the registry refuses (switched off, not open to their tier) is
skipped, and the skip kept in the chain. A model without a fallback is tried once more
after a timeout or a failure (RETRY_ON), never after a 429. Once a token has streamed
there is no switch: the person has read text, and the error is shown with it.

Each try becomes a usage record (usage.recording.Attempt) and an entry of the answer's
attempt chain (Message.attempts), which the bubble shows when more than one model was
asked ("answered by Claude Sonnet after GPT-4o timed out").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from providers import access
from providers.errors import UserFacingError
from providers.models import Fallback, LLMModel, Tier
from providers.runners.base import (
    ChatRequest,
    ProviderError,
    ProviderTarget,
    RateLimitError,
    UnavailableError,
    UpstreamTimeoutError,
    Usage,
)
from sessions_app.conversation import build_request, estimate_tokens
from sessions_app.models import Message
from usage import quotas
from usage.models import Outcome
from usage.quotas import Reservation
from usage.recording import Attempt, Prices, outcome_of

FALLBACK_ON = (UpstreamTimeoutError, UnavailableError, RateLimitError)
RETRY_ON = (UpstreamTimeoutError, UnavailableError)
# What a quota reserves for an answer's output when the model sets no max_tokens.
OUTPUT_ALLOWANCE_TOKENS = 1_000

# How the chain names an outcome: "after GPT-4o timed out".
OUTCOME_PHRASES = {
    Outcome.TIMEOUT: "timed out",
    Outcome.RATE_LIMITED: "was rate limited",
    Outcome.UNAVAILABLE: "failed",
    "skipped": "was skipped",
}


@dataclass(frozen=True)
class Candidate:
    """One model the answer may come from, with all its call needs."""

    model_pk: int
    label: str
    model_id: str
    provider_pk: int
    provider_name: str
    target: ProviderTarget
    request: ChatRequest
    left_out: int  # turns left out to fit the model's context budget
    limit: int  # the answer's size limit, in characters
    prices: Prices
    tiers: tuple[Tier, ...]  # the person's, as the registry found them

    @property
    def personal_key(self) -> bool:
        return self.target.api_key_is_personal

    def estimate(self) -> tuple[int, Decimal]:
        """Tokens and cost a quota reserves before the call: the input as estimated, and
        the output the model may write."""
        input_tokens = _input_estimate(self.request)
        output = self.request.settings.get("max_tokens") or OUTPUT_ALLOWANCE_TOKENS
        cost = self.prices.cost(input_tokens=input_tokens, cached_tokens=0, output_tokens=output)
        return input_tokens + output, cost or Decimal(0)

    def audit(self) -> dict[str, object]:
        """The answer's tag, when this candidate answers it."""
        return {
            "llm_model_id": self.model_pk,
            "model_id": self.model_id,
            "model_display_name": self.label,
            "provider_name": self.provider_name,
            "used_personal_key": self.personal_key,
            "turns_left_out": self.left_out,
        }


def _input_estimate(request: ChatRequest) -> int:
    texts = [m.content for m in request.messages] + [request.settings.get("system_prompt", "")]
    return sum(estimate_tokens(text) for text in texts if text)


def candidate(
    message: Message, model: LLMModel | int | None, *, granted: access.Grant | None = None
) -> Candidate:
    """`model` as a candidate for `message`'s answer, if its owner may use it now; else
    the registry's specific refusal (access.ModelUnavailableError). `granted`: the grant
    the caller obtained for this model and owner in the same database trip (Send's form),
    so it is not asked twice."""
    pk = model.pk if isinstance(model, LLMModel) else model
    fresh = granted is not None and granted.model.pk == pk
    grant = granted if fresh else access.grant(message.session.owner, pk)
    chosen = grant.model
    request, left_out = build_request(message, chosen)
    return Candidate(
        model_pk=chosen.pk,
        label=chosen.label,
        model_id=chosen.model_id,
        provider_pk=chosen.provider_id,
        provider_name=chosen.provider.name,
        target=grant.target(),
        request=request,
        left_out=left_out,
        limit=(chosen.settings or {}).get("max_answer_chars", settings.ANSWER_MAX_CHARS),
        prices=Prices.of(chosen),
        tiers=grant.tiers,
    )


@dataclass
class Try:
    """One call upstream, as it goes."""

    candidate: Candidate
    started_at: datetime = field(default_factory=timezone.now)
    started: float = field(default_factory=time.monotonic)
    ttft_ms: int | None = None
    usage: Usage | None = None
    latency_ms: int = 0
    outcome: str = ""

    @property
    def relayed(self) -> bool:
        return self.ttft_ms is not None

    def first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = ms_since(self.started)

    def end(self, outcome: str) -> None:
        self.latency_ms, self.outcome = ms_since(self.started), outcome

    def fail(self, error: BaseException) -> None:
        self.end(outcome_of(error))


@dataclass
class Chain:
    """The tries of one answer, and the fallbacks skipped between them."""

    message: Message
    user_id: int
    username: str
    tier_id: int | None
    tier_name: str
    reservation: Reservation | None
    tries: list[Try] = field(default_factory=list)
    entries: list[dict[str, object]] = field(default_factory=list)  # in order, skips included
    skipped: set[int] = field(default_factory=set)

    def reserve_for(self, chosen: Candidate) -> None:
        """Reserve the answer's estimate against the person's quotas when `chosen` goes
        with the team's key and nothing is reserved yet (the first such candidate of the
        chain: a personal key's answer is the person's). QuotaExceededError past a limit."""
        if chosen.personal_key or self.reservation is not None:
            return
        tokens, cost = chosen.estimate()
        self.reservation = quotas.reserve(
            self.user_id, list(chosen.tiers), tokens=tokens, cost=cost
        )

    def answered_by(self) -> Try:
        """The try the answer is tagged with: the one whose text it holds, else (nothing
        streamed) the first, the model chosen for it, which Retry then asks again."""
        return next((t for t in reversed(self.tries) if t.relayed), self.tries[0])

    def begin(self, with_candidate: Candidate) -> Try:
        attempt = Try(with_candidate)
        self.tries.append(attempt)
        return attempt

    def ended(self, attempt: Try) -> None:
        c = attempt.candidate
        self.entries.append(
            {
                "model": c.label,
                "provider": c.provider_name,
                "outcome": attempt.outcome,
                "ms": attempt.latency_ms,
            }
        )

    def skip(self, model: LLMModel, reason: str) -> None:
        self.entries.append(
            {
                "model": model.label,
                "provider": model.provider.name,
                "outcome": "skipped",
                "reason": reason,
            }
        )

    def next_candidate(self, error: ProviderError) -> Candidate | None:
        """The model to try after the last try failed before its first token with `error`
        (a database trip): the next usable fallback, else the same model once more."""
        last = self.tries[-1].candidate
        if isinstance(error, FALLBACK_ON):
            tried = {attempt.candidate.model_pk for attempt in self.tries}
            tried |= self.skipped
            links = Fallback.objects.filter(model_id=self.tries[0].candidate.model_pk)
            for link in links.select_related("fallback__provider").exclude(fallback__in=tried):
                try:
                    found = candidate(self.message, link.fallback)
                    self.reserve_for(found)
                    return found
                except UserFacingError as refusal:  # the registry's, the quota's, a key's
                    self.skipped.add(link.fallback_id)
                    self.skip(link.fallback, refusal.user_message)
        if isinstance(error, RETRY_ON) and len(self.tries) == 1:  # the chosen model, once
            return last
        return None

    def records(self, answer_text: str) -> list[Attempt]:
        """One usage record per try; the last one's text estimates its tokens when the
        provider reported none."""
        records = []
        for number, attempt in enumerate(self.tries, start=1):
            c = attempt.candidate
            text = answer_text if number == len(self.tries) else ""
            estimated = attempt.usage is None and bool(text)
            if attempt.usage is not None:
                usage = attempt.usage
            elif estimated:
                usage = Usage(_input_estimate(c.request), estimate_tokens(text))
            else:
                usage = Usage(0, 0)
            records.append(
                Attempt(
                    started_at=attempt.started_at,
                    user_id=self.user_id,
                    username=self.username,
                    tier_id=self.tier_id,
                    tier_name=self.tier_name,
                    session_id=self.message.session.public_id,
                    message_id=self.message.public_id,
                    number=number,
                    provider_id=c.provider_pk,
                    provider_name=c.provider_name,
                    model_pk=c.model_pk,
                    model_id=c.model_id,
                    personal_key=c.personal_key,
                    prices=c.prices,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cached_tokens=usage.cached_tokens,
                    tokens_estimated=estimated,
                    ttft_ms=attempt.ttft_ms,
                    latency_ms=attempt.latency_ms,
                    outcome=attempt.outcome,
                )
            )
        return records


def described(entries: list[dict[str, object]]) -> str:
    """The chain in a sentence: "after GPT-4o timed out and Claude Sonnet was skipped"."""
    earlier = [
        f"{entry['model']} {OUTCOME_PHRASES.get(str(entry['outcome']), 'failed')}"
        for entry in entries[:-1]
    ]
    if not earlier:
        return ""
    if len(earlier) == 1:
        return f"after {earlier[0]}"
    return f"after {', '.join(earlier[:-1])} and {earlier[-1]}"


def ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
