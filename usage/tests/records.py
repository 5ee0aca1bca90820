"""Usage records written as the chat writes them (usage.recording), rollups with them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import uuid4

from django.db import transaction

from usage import recording
from usage.recording import Attempt, Prices


def record(
    at: datetime,
    username: str,
    model_id: str,
    cost: str | None,
    *,
    user_id: int | None = None,
    tier_name: str = "Members",
    provider_name: str = "OpenAI",
    key_kind: str = "team",
    outcome: str = "ok",
    ttft_ms: int | None = 100,
    latency_ms: int = 500,
) -> None:
    """A try of 9,000 input and 1,000 output tokens at `at`, costing `cost` (None: the
    model has no price)."""
    price = Decimal(cost) * 100 if cost is not None else None  # per million, for 10,000 tokens
    attempt = Attempt(
        started_at=at,
        user_id=user_id,
        username=username,
        tier_id=None,
        tier_name=tier_name,
        session_id=uuid4(),
        message_id=uuid4(),
        number=1,
        provider_id=None,
        provider_name=provider_name,
        model_pk=None,
        model_id=model_id,
        personal_key=key_kind == "personal",
        prices=Prices(input=price, output=price),
        input_tokens=9_000,
        output_tokens=1_000,
        cached_tokens=0,
        tokens_estimated=False,
        ttft_ms=ttft_ms,
        latency_ms=latency_ms,
        outcome=outcome,
    )
    with transaction.atomic():
        recording.record([attempt])
