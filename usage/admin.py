from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from usage.models import PersonalQuota, UsageRecord


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    """The record as written: nobody edits history."""

    list_display = (
        "created_at",
        "username",
        "provider_name",
        "model_id",
        "key_kind",
        "outcome",
        "input_tokens",
        "output_tokens",
        "tokens_estimated",
        "cost",
        "latency_ms",
    )
    list_filter = ("outcome", "key_kind", "provider_name", "tokens_estimated")
    search_fields = ("username", "model_id", "provider_name")
    date_hierarchy = "created_at"
    list_per_page = 50
    # A count of a million rows on each page view is the slow part of a big changelist.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: UsageRecord | None = None) -> bool:
        return False


@admin.register(PersonalQuota)
class PersonalQuotaAdmin(admin.ModelAdmin):
    list_display = ("user", "daily_token_quota", "monthly_cost_budget")
    search_fields = ("user__username",)
    autocomplete_fields = ("user",)
