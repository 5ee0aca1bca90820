"""The provider and model registry: who we call, with which key, and which models."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models, transaction
from django.db.models.functions import Coalesce, Concat, NullIf
from django.utils import timezone

from providers import validators
from providers.keys.encryption import Secret
from providers.keys.fields import EncryptedTextField
from providers.presets import PRESETS, Preset, key_prefix_warning
from providers.runners.base import ConfigurationError, ProviderTarget


class Protocol(models.TextChoices):
    OPENAI = "openai", "OpenAI-compatible"
    ANTHROPIC = "anthropic", "Anthropic"


# The settings a runner is built with (Provider.target), checked again when read.
CONNECTION_SETTINGS = {
    name: validators.PROVIDER_SETTINGS[name]
    for name in ("connect_timeout", "read_timeout", "extra_headers")
}


class Provider(models.Model):
    name = models.CharField(max_length=100, unique=True)
    preset = models.CharField(
        max_length=20, choices=[(p.slug, p.label) for p in PRESETS.values()], default="custom"
    )
    protocol = models.CharField(max_length=20, choices=Protocol, default=Protocol.OPENAI)
    base_url = models.CharField("base URL", max_length=500)
    api_key: Secret = EncryptedTextField("API key", blank=True, default="")
    allow_private_network = models.BooleanField(
        default=False,
        help_text="Allow plain http:// and addresses on your own network (e.g. Ollama on "
        "localhost). Cloud metadata addresses stay refused.",
    )
    enabled = models.BooleanField(default=False)
    allow_personal_keys = models.BooleanField(
        default=True,
        help_text="People may store their own key for this provider; their messages then "
        "use it instead of the team's.",
    )
    is_builtin = models.BooleanField("built-in", default=False, editable=False)
    settings = models.JSONField(
        default=dict,
        blank=True,
        help_text='Connection settings, e.g. {"read_timeout": 60, "extra_headers": {"X-Team": '
        '"ml"}}.',
    )
    last_verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_verification_ok = models.BooleanField(null=True, editable=False)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    models_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        moved = self._moves_host()
        with transaction.atomic():
            super().save(*args, **kwargs)
            if moved:
                # People gave their keys for the old host: like the team's key, none is
                # ever sent to a new one; they enter theirs again.
                PersonalKey.objects.filter(provider=self).delete()
        self._loaded_base_url = self.base_url

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> Any:
        instance = super().from_db(db, field_names, values)
        # Remembered so clean() can tell when an edit moves the stored key to a new host.
        instance._loaded_base_url = instance.__dict__.get("base_url", "")
        return instance

    @property
    def preset_info(self) -> Preset:
        return PRESETS.get(self.preset, PRESETS["custom"])

    def masked_key(self) -> str:
        return self.api_key.masked()

    def target(self, *, personal_key: Secret | None = None) -> ProviderTarget:
        """Plain values for a runner: with a person's own key when given and this provider
        allows personal keys, else the team's. Raises UnreadableSecretError, or
        ConfigurationError for a stored value a runner cannot use (saved past clean(): an
        old row, a raw UPDATE), so one such row fails alone, with its reason."""
        settings = self.settings if isinstance(self.settings, dict) else {}
        if self.protocol not in Protocol.values:
            raise ConfigurationError(
                detail=f"Its protocol, {self.protocol!r}, is not one Switchboard speaks."
            )
        for name, rule in CONNECTION_SETTINGS.items():
            if name in settings and (problem := rule.problem(settings[name])):
                raise ConfigurationError(detail=f"Its setting {name}: {problem}.")
        personal = personal_key if personal_key and self.allow_personal_keys else None
        return ProviderTarget(
            name=self.name,
            protocol=self.protocol,
            base_url=self.base_url,
            api_key=(personal or self.api_key).reveal(),
            api_key_is_personal=personal is not None,
            allow_private_network=self.allow_private_network,
            output_limit_param=self.preset_info.output_limit_param,
            connect_timeout=settings.get("connect_timeout", ProviderTarget.connect_timeout),
            read_timeout=settings.get("read_timeout", ProviderTarget.read_timeout),
            extra_headers=tuple(settings.get("extra_headers", {}).items()),
        )

    def verification_model(self) -> LLMModel | None:
        """The model a verification spends its one token on: the default, else the first."""
        return self.models.live().filter(enabled=True).order_by("-is_default", "model_id").first()

    def record_verification(self, *, ok: bool, latency_ms: int | None, error: str) -> None:
        self.last_verified_at = timezone.now()
        self.last_verification_ok = ok
        self.last_latency_ms = latency_ms
        self.last_error = error
        self.save(
            update_fields=[
                "last_verified_at",
                "last_verification_ok",
                "last_latency_ms",
                "last_error",
                "updated_at",
            ]
        )

    def key_warning(self) -> str:
        """A sentence when the key looks like another vendor's (saved anyway)."""
        if not self.api_key or self.api_key.is_stored:
            return ""
        return key_prefix_warning(self.preset_info, self.api_key.reveal())

    def clean(self) -> None:
        errors: dict[str, list[ValidationError]] = {}
        try:
            validators.validate_base_url(
                self.base_url, allow_private_network=self.allow_private_network
            )
        except ValidationError as e:
            errors.setdefault("base_url", []).append(e)
        if self.api_key and not self.api_key.is_stored:
            try:
                validators.validate_api_key(self.api_key.reveal())
            except ValidationError as e:
                errors.setdefault("api_key", []).append(e)
        if self.enabled and self.preset_info.requires_key and not self.api_key:
            errors.setdefault("api_key", []).append(
                ValidationError(
                    f"{self.preset_info.label} needs an API key before this provider can be "
                    "enabled.",
                    # Not "required": a form would swap in its generic message for that code.
                    code="key_required",
                )
            )
        if self._moves_stored_key():
            errors.setdefault("base_url", []).append(
                ValidationError(
                    f"Re-enter the API key to point this provider at {_host(self.base_url)}: "
                    "a stored key is never sent to a different host by an edit alone.",
                    code="host_changed",
                )
            )
        try:
            validators.validate_settings(self.settings, validators.PROVIDER_SETTINGS)
        except ValidationError as e:
            errors.setdefault("settings", []).append(e)
        if errors:
            raise ValidationError(errors)

    def _moves_host(self) -> bool:
        loaded = getattr(self, "_loaded_base_url", "")
        return bool(loaded) and _host(loaded) != _host(self.base_url)

    def _moves_stored_key(self) -> bool:
        return self._moves_host() and self.api_key.is_stored


def _host(url: str) -> str:
    """host[:port] as the client would connect; "" when the URL does not parse."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or ''}:{parts.port or ''}".rstrip(":")
    except ValueError:
        return ""


# What clients ask the gateways for: the gateway name, or the model id when it has none.
GATEWAY_NAME = Coalesce(NullIf(models.F("gateway_name"), models.Value("")), models.F("model_id"))


class LLMModelQuerySet(models.QuerySet["LLMModel"]):
    def live(self) -> LLMModelQuerySet:
        """Models not marked deleted."""
        return self.filter(deleted_at__isnull=True)

    def park_gateway_names(self) -> None:
        """Give these models a gateway name no model can have (a space is in no model id
        or gateway name), before they are saved with their new ones: two models swapping
        names would otherwise meet the unique index half way."""
        self.update(gateway_name=Concat(models.Value(" parked-"), models.F("pk")))

    def usable(self) -> LLMModelQuerySet:
        """Enabled, live models of enabled providers that hold a key or need none."""
        keyless = [preset.slug for preset in PRESETS.values() if not preset.requires_key]
        has_key = models.Q(provider__preset__in=keyless) | ~models.Q(provider__api_key="")
        return (
            self.live()
            .filter(has_key, enabled=True, provider__enabled=True)
            .select_related("provider")
        )


def PriceField(verbose_name: str, of: str) -> models.DecimalField:
    return models.DecimalField(
        verbose_name,
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=f"Per million {of}, in the currency USAGE_CURRENCY names; empty: no price.",
    )


class ModelSource(models.TextChoices):
    """How a model came into the catalogue."""

    MANUAL = "manual", "Added by hand"
    DISCOVERED = "discovered", "Discovered"
    PRESET = "preset", "A preset's starter"  # manage.py seed_providers
    IMPORTED = "imported", "Imported"  # a catalogue file, or a gateway's configuration


class LLMModel(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="models")
    model_id = models.CharField(
        "model id", max_length=200, help_text="The id the provider's API uses, e.g. gpt-4o."
    )
    display_name = models.CharField(
        max_length=200, blank=True, help_text="Shown to people; the model id when left blank."
    )
    gateway_name = models.CharField(
        max_length=validators.GATEWAY_NAME_MAX,
        blank=True,
        validators=[validators.validate_gateway_name],
        help_text="What clients ask the gateways (GPT-Load, uni-api) for; the model id when "
        "left blank. Requests upstream always use the model id.",
    )
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(
        "default", default=False, help_text="The provider's default model (at most one)."
    )
    source = models.CharField(max_length=20, choices=ModelSource, default=ModelSource.MANUAL)
    first_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    allowed_tiers = models.ManyToManyField(
        "Tier",
        blank=True,
        related_name="models",
        help_text="The tiers that may use this model; none selected: every tier.",
    )
    missing_since = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when the provider's model list stopped listing this model.",
    )
    deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when staff deleted the model: gone from the picker and the gateways, "
        "kept for history and usage, and restorable.",
    )
    settings = models.JSONField(
        default=dict,
        blank=True,
        help_text='Request settings, e.g. {"temperature": 0.7, "max_tokens": 1024}.',
    )
    input_price = PriceField("input price", "input tokens")
    cached_input_price = PriceField(
        "cached input price", "input tokens read from the provider's cache; empty: the input price"
    )
    output_price = PriceField("output price", "output tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LLMModelQuerySet.as_manager()

    class Meta:
        verbose_name = "model"
        ordering = ["provider__name", "model_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model_id"],
                name="unique_model_id_per_provider",
                violation_error_message="This provider already has a model with this id.",
            ),
            models.UniqueConstraint(
                fields=["provider"],
                condition=models.Q(is_default=True),
                name="one_default_model_per_provider",
            ),
            # Checked with the other model named in validate_constraints; this index is
            # what holds when two saves race.
            models.UniqueConstraint(
                models.F("provider"),
                GATEWAY_NAME,
                condition=models.Q(deleted_at__isnull=True),
                name="unique_gateway_name_per_provider",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.provider.name})"

    @property
    def label(self) -> str:
        return self.display_name or self.model_id

    @property
    def effective_gateway_name(self) -> str:
        return self.gateway_name or self.model_id

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def gateway_name_holder(self) -> LLMModel | None:
        """Another live model of this provider that clients already reach by this
        model's gateway name, if any."""
        if not self.provider_id:
            return None
        return (
            LLMModel.objects.live()
            .filter(provider_id=self.provider_id)
            .alias(served_as=GATEWAY_NAME)
            .filter(served_as=self.effective_gateway_name)
            .exclude(pk=self.pk)
            .first()
        )

    def clean(self) -> None:
        errors: dict[str, list[ValidationError]] = {}
        try:
            validators.validate_model_id(self.model_id)
        except ValidationError as e:
            errors["model_id"] = [e]
        try:
            validators.validate_settings(self.settings, validators.MODEL_SETTINGS)
        except ValidationError as e:
            errors["settings"] = [e]
        if self.provider_id and self.provider.protocol == Protocol.ANTHROPIC:
            for key in sorted(validators.NOT_ON_ANTHROPIC & set(self.settings or {})):
                errors.setdefault("settings", []).append(
                    ValidationError(f"{key}: Anthropic's Messages API does not take this setting")
                )
        if errors:
            raise ValidationError(errors)

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        # The one-default rule is checked here rather than by the generic constraint
        # check, to name the current default; and it honours `exclude`, so a formset can
        # leave it out per row and check the whole submission (see forms.py).
        exclude = set(exclude or ())
        super().validate_constraints(exclude=exclude | {"is_default", "gateway_name"})
        checks_name = "gateway_name" not in exclude and not self.is_deleted
        if checks_name and (holder := self.gateway_name_holder()):
            raise ValidationError(
                {"gateway_name": gateway_name_taken(self.effective_gateway_name, holder)}
            )
        if "is_default" in exclude or not (self.is_default and self.provider_id):
            return
        current = (
            LLMModel.objects.filter(provider_id=self.provider_id, is_default=True)
            .exclude(pk=self.pk)
            .first()
        )
        if current is not None:
            raise ValidationError(
                {
                    "is_default": f"{current.label} is already the default model of "
                    f"{current.provider.name}; untick it first."
                }
            )

    def restore(self) -> None:
        """Bring a deleted model back, unless a live model of its provider now holds its
        gateway name (ValidationError naming it)."""
        with transaction.atomic():
            Provider.objects.select_for_update().filter(pk=self.provider_id).first()
            if holder := self.gateway_name_holder():
                raise ValidationError(gateway_name_taken(self.effective_gateway_name, holder))
            LLMModel.objects.filter(pk=self.pk).update(deleted_at=None, updated_at=timezone.now())
        self.deleted_at = None

    def save_keeping_one_default(self) -> None:
        """Save; if this model is now the default, the previous one steps down first.

        For callers that validated the outcome as a whole: a formset that unticks one row
        and ticks another saves them in either order, and the partial unique index must
        never see two defaults in between.
        """
        with transaction.atomic():
            if self.is_default:
                LLMModel.objects.filter(provider_id=self.provider_id, is_default=True).exclude(
                    pk=self.pk
                ).update(is_default=False)
            self.save()


def gateway_name_taken(name: str, holder: LLMModel) -> str:
    return (
        f"{holder.provider.name} already serves {name} to the gateways as its model "
        f"{holder.model_id}; two models of one provider cannot share a gateway name."
    )


def BudgetField(help_text: str) -> models.DecimalField:
    return models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=help_text,
    )


class Fallback(models.Model):
    """One model to try, in order, when `model` fails before its first token."""

    model = models.ForeignKey(LLMModel, on_delete=models.CASCADE, related_name="fallback_links")
    fallback = models.ForeignKey(LLMModel, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["model", "fallback"], name="one_fallback_link_each"),
            models.CheckConstraint(
                condition=~models.Q(model=models.F("fallback")),
                name="no_fallback_to_itself",
                violation_error_message="A model cannot be its own fallback.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} → {self.fallback}"


class Tier(models.Model):
    """Who may use which models: a user is in the tiers whose groups they belong to, or
    in the default tier when in none. A model that lists no tiers is open to every tier."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    group = models.OneToOneField(
        Group,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tier",
        help_text="Members of this group are in this tier. Left empty, a group named "
        "after the tier is created.",
    )
    default_model = models.ForeignKey(
        LLMModel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    daily_token_quota = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Tokens a member's answers may use per day (the team's keys only); empty: "
        "no limit.",
    )
    monthly_cost_budget = BudgetField(
        "What a member's answers may cost per calendar month (the team's keys only), in "
        "the currency USAGE_CURRENCY names; empty: no budget."
    )
    is_default = models.BooleanField(
        "default tier", default=False, help_text="The tier of users in no tier's group."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_tier",
                violation_error_message="Another tier is already the default tier.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def ensure_group(self) -> None:
        """Give the tier a group named after it when it has none (admin, config import)."""
        if self.group_id is None:
            self.group, _ = Group.objects.get_or_create(name=self.name)
            self.save(update_fields=["group"])


class PersonalKey(models.Model):
    """A person's own key for a provider, used for their messages instead of the team's
    while the provider allows personal keys."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_keys"
    )
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="personal_keys")
    api_key: Secret = EncryptedTextField("API key")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="one_personal_key_each")
        ]

    def __str__(self) -> str:
        return f"{self.user}'s key for {self.provider}"
