"""The gateways in the admin: the GPT-Load instance (its keys write-only or masked), the
groups Switchboard made there, and the history of syncs (read-only: a sync writes it)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html_join

from gateways.models import (
    GPTLoadInstance,
    SyncRun,
    TierKey,
    TrackedGroup,
    UniApiTarget,
    new_client_key,
)
from providers.forms import KeyField
from providers.keys.encryption import Secret


class GPTLoadInstanceForm(forms.ModelForm):
    auth_key = KeyField(label="Auth key", required=False)

    class Meta:
        model = GPTLoadInstance
        fields = ["url", "auth_key", "allow_private_network"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = self.instance.auth_key.masked()
        self.fields["auth_key"].help_text = (
            f"GPT-Load's AUTH_KEY. Stored: {stored}. Leave blank to keep it."
            if stored
            else "GPT-Load's AUTH_KEY."
        )
        self.fields["auth_key"].required = not stored

    def clean_auth_key(self) -> Any:
        # Blank keeps the stored Secret, still sealed: it was not re-entered.
        return self.cleaned_data["auth_key"] or self.instance.auth_key


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GPTLoadInstance)
class GPTLoadInstanceAdmin(admin.ModelAdmin):
    form = GPTLoadInstanceForm
    list_display = ("url", "masked_auth_key", "masked_proxy_key", "allow_private_network")
    readonly_fields = ("masked_proxy_key",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not GPTLoadInstance.objects.exists()  # one GPT-Load per Switchboard

    @admin.display(description="auth key")
    def masked_auth_key(self, obj: GPTLoadInstance) -> str:
        return obj.auth_key.masked()

    @admin.display(description="proxy key")
    def masked_proxy_key(self, obj: GPTLoadInstance) -> str:
        return obj.proxy_key.masked() or "generated when saved"


@admin.register(TrackedGroup)
class TrackedGroupAdmin(_ReadOnly):
    list_display = ("name", "kind", "remote_id", "provider_name", "serves", "synced_at")
    list_filter = ("kind",)
    search_fields = ("name", "provider_name", "serves")
    exclude = ("fields_fingerprint", "key_fingerprint")


@admin.register(SyncRun)
class SyncRunAdmin(_ReadOnly):
    list_display = (
        "started_at",
        "started_by_name",
        "target",
        "dry_run",
        "status",
        "change_count",
        "finished_at",
    )
    list_filter = ("status", "dry_run", "target")
    exclude = ("changes",)
    readonly_fields = ("change_list",)

    @admin.display(description="changes")
    def change_count(self, run: SyncRun) -> int:
        return len(run.changes)

    @admin.display(description="changes")
    def change_list(self, run: SyncRun) -> str:
        return format_html_join(
            "\n",
            "<div>{} {} <strong>{}</strong> {}</div>",
            (
                (c["action"], c["kind"], c["name"], f"({c['detail']})" if c["detail"] else "")
                for c in run.changes
            ),
        )


@admin.register(UniApiTarget)
class UniApiTargetAdmin(admin.ModelAdmin):
    fields = ("path", "url", "allow_private_network", "preferences", "masked_admin_key")
    readonly_fields = ("masked_admin_key",)
    list_display = ("path", "url", "masked_admin_key")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not UniApiTarget.objects.exists()  # one api.yaml per Switchboard

    @admin.display(description="admin key")
    def masked_admin_key(self, obj: UniApiTarget) -> str:
        return obj.admin_key.masked() or "generated when saved"


@admin.register(TierKey)
class TierKeyAdmin(_ReadOnly):
    """Made by the sync for each tier it lists; rotated here (the next sync writes it)."""

    list_display = ("tier", "masked_key", "created_at", "rotated_at")
    fields = ("tier", "masked_key", "created_at", "rotated_at")
    readonly_fields = fields
    actions = ("rotate",)

    @admin.display(description="API key")
    def masked_key(self, obj: TierKey) -> str:
        return obj.api_key.masked()

    @admin.action(description="Rotate the selected tiers' uni-api keys")
    def rotate(self, request: HttpRequest, queryset: QuerySet[TierKey]) -> None:
        for key in queryset:
            key.api_key = Secret(new_client_key())
            key.rotated_at = timezone.now()
            key.save(update_fields=["api_key", "rotated_at"])
        self.message_user(
            request,
            f"{len(queryset)} key(s) rotated: the next sync writes them to api.yaml; clients "
            "holding the old ones are refused from then on.",
            messages.SUCCESS,
        )
