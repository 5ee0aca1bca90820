"""The gateways the catalogue is pushed to, what Switchboard made in them, and its syncs."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from gateways.gptload import GPTLoad
from providers import validators
from providers.keys.encryption import Secret
from providers.keys.fields import EncryptedTextField


def new_proxy_key() -> str:
    return "sk-switchboard-" + secrets.token_urlsafe(32)


def new_client_key() -> str:
    return "sk-" + secrets.token_urlsafe(36)


def _check_url(url: str, *, allow_private_network: bool) -> None:
    """The URL rule outbound calls follow (providers.validators), as the form's url error."""
    try:
        validators.validate_base_url(url, allow_private_network=allow_private_network)
    except ValidationError as error:
        raise ValidationError({"url": error}) from None


class GPTLoadInstance(models.Model):
    """The GPT-Load the catalogue is pushed to: one per Switchboard, or none."""

    url = models.CharField(
        "URL",
        max_length=500,
        help_text="GPT-Load's root, as Switchboard reaches it, e.g. http://gpt-load:3001.",
    )
    auth_key: Secret = EncryptedTextField(
        "auth key", blank=True, default="", help_text="GPT-Load's AUTH_KEY."
    )
    proxy_key: Secret = EncryptedTextField(
        "proxy key",
        blank=True,
        default="",
        help_text="The key clients (uni-api) call the groups Switchboard makes with; generated.",
    )
    allow_private_network = models.BooleanField(
        "allow a private network address",
        default=True,
        help_text="GPT-Load usually runs beside Switchboard, on a private network.",
    )
    # Unique and always True: a second row cannot be saved.
    singleton = models.BooleanField(default=True, editable=False, unique=True)

    class Meta:
        verbose_name = "GPT-Load instance"

    def __str__(self) -> str:
        return f"GPT-Load at {self.url}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.proxy_key:
            self.proxy_key = Secret(new_proxy_key())
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        _check_url(self.url, allow_private_network=self.allow_private_network)

    def client(self) -> GPTLoad:
        """A client for this instance's management API; use it with `async with`."""
        return GPTLoad(
            self.url, self.auth_key.reveal(), allow_private_network=self.allow_private_network
        )


class GroupKind(models.TextChoices):
    STANDARD = "standard"
    AGGREGATE = "aggregate"


class TrackedGroup(models.Model):
    """A group Switchboard made in GPT-Load: the only ones a sync updates or deletes."""

    instance = models.ForeignKey(GPTLoadInstance, on_delete=models.CASCADE, related_name="groups")
    remote_id = models.PositiveBigIntegerField("GPT-Load id")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=GroupKind.choices)
    provider_name = models.CharField("made from provider", max_length=100, blank=True)
    serves = models.CharField("made for gateway name", max_length=200, blank=True)
    # Keyed hashes (SECRET_KEY) of what was last sent: a changed key or field is seen
    # without keeping either.
    fields_fingerprint = models.CharField(max_length=64)
    key_fingerprint = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instance", "remote_id"], name="one_row_per_group"),
            models.UniqueConstraint(fields=["instance", "name"], name="one_group_per_name"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SyncStatus(models.TextChoices):
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    CONFLICTS = "conflicts", "succeeded, with conflicts"
    FAILED = "failed", "failed"


# A change's action → the verb a run's summary counts it under.
SUMMARY_VERBS = {
    "create": "created",
    "recreate": "created",
    "update": "updated",
    "delete": "deleted",
    "write": "written",
    "conflict": "conflicts",
    "kept": "kept",
    "download": "downloaded",
}


class SyncRun(models.Model):
    """One sync, dry or not: its progress while it runs, then its history."""

    target = models.CharField(max_length=10, default="all")  # all, gptload or uniapi
    dry_run = models.BooleanField(default=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    started_by_name = models.CharField(max_length=150, blank=True)  # kept past the user
    status = models.CharField(max_length=10, choices=SyncStatus.choices)
    step = models.CharField(max_length=100, blank=True)
    steps_done = models.PositiveSmallIntegerField(default=0)
    steps_total = models.PositiveSmallIntegerField(default=0)
    # [{"gateway", "action", "kind", "name", "detail"}]: never a key
    changes = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The lock: at most one running sync, whichever process or machine runs it.
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="running"), name="one_running_sync"
            ),
        ]
        ordering = ["-started_at", "-pk"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        kind = "dry run" if self.dry_run else "sync"
        return f"{kind} of {self.started_at:%Y-%m-%d %H:%M} ({self.get_status_display()})"

    @property
    def took(self) -> str:
        """How long it ran, for the history: "4.2 s", "3 min 5 s"; "" while it runs."""
        if self.finished_at is None:
            return ""
        seconds = (self.finished_at - self.started_at).total_seconds()
        if seconds < 60:
            return f"{seconds:.1f} s"
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"

    @property
    def summary(self) -> str:
        """What it did per gateway: "GPT-Load: 4 created, 1 updated; uni-api: 1 written"."""
        names = {"gptload": "GPT-Load", "uniapi": "uni-api"}
        counted: dict[str, dict[str, int]] = {}
        for change in self.changes:
            verb = SUMMARY_VERBS.get(change["action"])
            if verb:
                per = counted.setdefault(change.get("gateway", "gptload"), {})
                per[verb] = per.get(verb, 0) + 1
        return "; ".join(
            f"{names.get(gateway, gateway)}: "
            + ", ".join(f"{count} {verb}" for verb, count in per.items())
            for gateway, per in counted.items()
        )


def default_preferences() -> dict:
    """uni-api's global preferences as Switchboard writes them unless staff change them
    (uni-api's README: model_timeout in seconds per model or `default`; a failed channel
    rests cooldown_period seconds)."""
    return {"model_timeout": {"default": 100}, "cooldown_period": 300}


class UniApiTarget(models.Model):
    """The api.yaml Switchboard writes for uni-api: one per Switchboard, or none."""

    path = models.CharField(
        "api.yaml path",
        max_length=500,
        help_text="Where the file is written, e.g. /shared/uni-api/api.yaml (uni-api reads it "
        "again every few seconds).",
    )
    url = models.CharField(
        "uni-api URL",
        max_length=500,
        blank=True,
        help_text="The running uni-api, e.g. http://uni-api:8000, to check after writing; "
        "empty: not checked.",
    )
    allow_private_network = models.BooleanField("allow a private network address", default=True)
    admin_key: Secret = EncryptedTextField("admin key", blank=True, default="")
    preferences = models.JSONField(default=default_preferences, blank=True)
    singleton = models.BooleanField(default=True, editable=False, unique=True)

    class Meta:
        verbose_name = "uni-api target"

    def __str__(self) -> str:
        return f"uni-api at {self.path}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.admin_key:
            self.admin_key = Secret(new_client_key())
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if self.url:
            _check_url(self.url, allow_private_network=self.allow_private_network)
        if not isinstance(self.preferences, dict):
            raise ValidationError({"preferences": "Preferences are a mapping of uni-api's keys."})


class TierKey(models.Model):
    """A tier's uni-api client key: generated once, stored encrypted, rotatable."""

    tier = models.OneToOneField("providers.Tier", on_delete=models.CASCADE, related_name="+")
    api_key: Secret = EncryptedTextField("API key", default="")
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"uni-api key of {self.tier}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.api_key:
            self.api_key = Secret(new_client_key())
        super().save(*args, **kwargs)
