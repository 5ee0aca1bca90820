"""What every upstream attempt used and cost, and the counters quotas are checked against.

A UsageRecord is written for each attempt a chat answer makes (a retry and each fallback
its own), from plain values: usage knows no chat. It keeps snapshots of the names beside
its foreign keys, so a deleted user, tier, provider or model leaves the record readable,
and its cost as computed when it was written, so a later price change rewrites nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from providers.models import BudgetField, LLMModel, Provider, Tier


class KeyKind(models.TextChoices):
    TEAM = "team", "Team key"
    PERSONAL = "personal", "Personal key"


class Outcome(models.TextChoices):
    OK = "ok", "OK"
    STOPPED = "stopped", "Stopped"  # by the person (the model's output limit is OK)
    CUT = "cut", "Cut at the size limit"
    INTERRUPTED = "interrupted", "Interrupted (server stopped)"
    TIMEOUT = "timeout", "Timed out"
    RATE_LIMITED = "rate_limited", "Rate limited"
    UNAVAILABLE = "unavailable", "Provider failed"
    BAD_KEY = "bad_key", "Key refused"
    REFUSED = "refused", "Request refused"
    MALFORMED = "malformed", "Malformed response"
    FAILED = "failed", "Failed"  # anything else, our bugs included


# The outcomes of a try that answered; the others failed (verdict() says whose fault).
ANSWERED = frozenset({Outcome.OK, Outcome.STOPPED, Outcome.CUT})
# Failures whose cause is never the provider: our server stopping, our own failure, a
# request the provider refused as malformed.
NOT_THEIRS = frozenset({Outcome.INTERRUPTED, Outcome.FAILED, Outcome.REFUSED})


def verdict(outcome: str, key_kind: str, ttft_ms: int | None) -> bool | None:
    """What a try says of its provider: True it answered (ok, cut at the size limit, or
    stopped by the person after its first token), False it failed (a timeout, a rate
    limit, a 5xx, a malformed stream, the team's key refused), None when the cause was
    not the provider's (NOT_THEIRS, a person's own key refused, a Stop before any token).
    Model health and the dashboard's success rates both count by it."""
    if outcome in NOT_THEIRS:
        return None
    if outcome == Outcome.BAD_KEY and key_kind == KeyKind.PERSONAL:
        return None
    if outcome == Outcome.STOPPED and ttft_ms is None:
        return None
    return outcome in ANSWERED


class UsageRecord(models.Model):
    created_at = models.DateTimeField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    username = models.CharField(max_length=150)
    tier = models.ForeignKey(Tier, on_delete=models.SET_NULL, null=True, related_name="+")
    tier_name = models.CharField(max_length=100, blank=True)
    session_id = models.UUIDField(null=True, help_text="The chat's public id.")
    message_id = models.UUIDField(null=True, help_text="The answer's public id.")
    attempt = models.PositiveSmallIntegerField(default=1, help_text="1 for the first try.")
    provider = models.ForeignKey(Provider, on_delete=models.SET_NULL, null=True, related_name="+")
    provider_name = models.CharField(max_length=100)
    llm_model = models.ForeignKey(LLMModel, on_delete=models.SET_NULL, null=True, related_name="+")
    model_id = models.CharField(max_length=200)
    key_kind = models.CharField(max_length=10, choices=KeyKind, default=KeyKind.TEAM)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    tokens_estimated = models.BooleanField(
        default=False, help_text="The provider reported no token counts; these are estimates."
    )
    ttft_ms = models.PositiveIntegerField("time to first token (ms)", null=True)
    latency_ms = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20, choices=Outcome)
    cost = models.DecimalField(
        max_digits=16, decimal_places=8, null=True, help_text="Empty: the model had no price."
    )
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"]),
            models.Index(fields=["user", "created_at"]),
            models.Index(fields=["llm_model", "created_at"]),
            models.Index(fields=["provider", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.username}: {self.provider_name}/{self.model_id} ({self.outcome})"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class PersonalQuota(models.Model):
    """A person's own limits, in place of their tiers' where set."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_quota"
    )
    daily_token_quota = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the tier's quota."
    )
    monthly_cost_budget = BudgetField("Empty: the tier's budget.")

    def __str__(self) -> str:
        return f"Limits of {self.user}"


class Period(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"


class QuotaCounter(models.Model):
    """What a person's answers on the team's keys used in one day or month (TIME_ZONE's),
    reserved before each answer goes upstream and settled with its real count after."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=5, choices=Period)
    starts_on = models.DateField()
    tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=8, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period", "starts_on"], name="one_counter_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user}, {self.period} of {self.starts_on}"


class UsageDay(models.Model):
    """One day's totals (TIME_ZONE's) for one person, tier, model and key kind, kept up as
    the records are written. They outlive the records (USAGE_RETENTION_DAYS), so a long
    range of the dashboard and of usage_report reads these, a few rows a day, not every
    record. Keyed by the names the records keep, which survive a deletion."""

    day = models.DateField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    username = models.CharField(max_length=150)
    tier_name = models.CharField(max_length=100, blank=True)
    provider_name = models.CharField(max_length=100)
    model_id = models.CharField(max_length=200)
    key_kind = models.CharField(max_length=10, choices=KeyKind)
    tries = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0)
    # The tries verdict() counts for and against the provider.
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=8, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "username", "tier_name", "provider_name", "model_id", "key_kind"],
                name="one_usage_day_per_group",
            )
        ]
        indexes = [models.Index(fields=["user", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.username} {self.provider_name}/{self.model_id}"


class Measure(models.TextChoices):
    TTFT = "ttft", "Time to first token"
    TOTAL = "total", "Total latency"


def latency_bucket(ms: int) -> int:
    """`ms` rounded up to two significant digits (1,234 → 1,300): a bucket at most 10 %
    wide, and a figure people read at a glance."""
    if ms < 100:
        return ms
    step = 10 ** (len(str(ms)) - 2)
    return -(-ms // step) * step


class LatencyDay(models.Model):
    """A day's latency histogram (TIME_ZONE's day) for one model: how many of the tries
    verdict() counts took up to `ms` (latency_bucket), for the first token (every such
    try that got one) and in total (those that answered). The dashboard's percentiles
    over any range are read from these few rows, not from every record; they are within
    a bucket (10 %) of the exact figure. Kept, like UsageDay, past the records."""

    day = models.DateField()
    provider_name = models.CharField(max_length=100)
    model_id = models.CharField(max_length=200)
    measure = models.CharField(max_length=5, choices=Measure)
    ms = models.PositiveIntegerField(help_text="The bucket's upper bound.")
    tries = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "provider_name", "model_id", "measure", "ms"],
                name="one_latency_day_per_bucket",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.provider_name}/{self.model_id} {self.measure} ≤{self.ms} ms"
