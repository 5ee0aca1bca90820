"""Verify a provider: one minimal request that proves the key works, timed.

The request spends one output token on the provider's default (else first enabled)
model; a provider without models lists its models instead. The outcome is stored on the
provider (Provider.record_verification) with a readable category, never the key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from asgiref.sync import async_to_sync

from providers.errors import UserFacingError
from providers.models import Provider
from providers.runners.base import ProviderError, ProviderTarget
from providers.runners.router import open_runner

logger = logging.getLogger(__name__)

# Bulk verification runs this many providers at once: enough to hide latency, few
# enough not to look like a burst to any one vendor.
CONCURRENCY = 4

# What a provider with no enabled model is checked by, and what that leaves unchecked.
LIST_ONLY = "model list only: enable a model to check a real answer"


@dataclass(frozen=True)
class VerificationResult:
    ok: bool
    latency_ms: int | None = None
    category: str = ""  # "bad key", "rate limited", …; "" when ok
    message: str = ""
    checked: str = ""  # what was tried, in words (verify_target)

    @property
    def summary(self) -> str:
        if self.ok:
            return f"OK in {self.latency_ms} ms ({self.checked})"
        return f"{self.category}: {self.message}"


async def verify_target(target: ProviderTarget, model_id: str | None) -> VerificationResult:
    checked = f"a one-token answer from {model_id}" if model_id else LIST_ONLY
    started = time.perf_counter()
    try:
        async with open_runner(target) as runner:
            if model_id:
                await runner.check(model_id)
            else:
                await runner.list_models()
    except ProviderError as error:
        latency = round((time.perf_counter() - started) * 1000)
        return VerificationResult(False, latency, error.category, error.description, checked)
    return VerificationResult(True, round((time.perf_counter() - started) * 1000), checked=checked)


def verify_providers(providers: Sequence[Provider]) -> list[tuple[Provider, VerificationResult]]:
    """Verify each provider (CONCURRENCY at a time) and record the outcome on it."""
    jobs: list[tuple[Provider, ProviderTarget, str | None]] = []
    results: dict[int, VerificationResult] = {}
    for provider in providers:
        if provider.preset_info.requires_key and not provider.api_key:
            results[provider.pk] = VerificationResult(False, None, "bad key", "No API key stored.")
            continue
        try:
            target = provider.target()
        except UserFacingError as error:  # a key no longer readable, a value no runner can use
            results[provider.pk] = VerificationResult(
                False, None, error.category, error.description
            )
            continue
        model = provider.verification_model()
        jobs.append((provider, target, model.model_id if model else None))

    outcomes = async_to_sync(_verify_all)([(target, model_id) for _, target, model_id in jobs])
    results |= {
        provider.pk: outcome for (provider, _, _), outcome in zip(jobs, outcomes, strict=True)
    }

    for provider in providers:
        result = results[provider.pk]
        provider.record_verification(
            ok=result.ok, latency_ms=result.latency_ms, error="" if result.ok else result.summary
        )
        logger.info("Verified provider %s: %s", provider.name, result.summary)
    return [(provider, results[provider.pk]) for provider in providers]


async def _verify_all(jobs: list[tuple[ProviderTarget, str | None]]) -> list[VerificationResult]:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def bounded(target: ProviderTarget, model_id: str | None) -> VerificationResult:
        async with limit:
            return await verify_target(target, model_id)

    return await asyncio.gather(*(bounded(target, model_id) for target, model_id in jobs))
