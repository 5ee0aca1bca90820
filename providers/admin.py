"""Admin for providers and their models: the registry's main editing surface."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest

from providers.forms import (
    ModelChangelistFormSet,
    ModelInlineFormSet,
    ModelRowForm,
    ProviderForm,
)
from providers.models import LLMModel, Provider

admin.site.site_header = "Switchboard administration"
admin.site.site_title = "Switchboard"


class LLMModelInline(admin.TabularInline):
    model = LLMModel
    form = ModelRowForm
    formset = ModelInlineFormSet
    fields = ("model_id", "display_name", "enabled", "is_default", "source")
    readonly_fields = ("source",)
    extra = 1
    show_change_link = True


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    inlines = [LLMModelInline]
    list_display = ("name", "preset", "protocol", "enabled", "key", "model_count")
    list_filter = ("preset", "protocol", "enabled", "is_builtin")
    search_fields = ("name", "base_url")
    readonly_fields = (
        "is_builtin",
        "last_verified_at",
        "last_verification_ok",
        "last_latency_ms",
        "last_error",
        "models_fetched_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "preset",
                    "protocol",
                    "base_url",
                    "allow_private_network",
                    "enabled",
                )
            },
        ),
        ("Credentials", {"fields": ("api_key", "clear_api_key")}),
        ("Advanced", {"fields": ("settings",), "classes": ("collapse",)}),
        ("Status", {"fields": readonly_fields}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Provider]:
        return super().get_queryset(request).annotate(model_count=Count("models"))

    @admin.display(description="Key")
    def key(self, provider: Provider) -> str:
        return provider.masked_key() or "—"

    @admin.display(description="Models", ordering="model_count")
    def model_count(self, provider: Provider) -> int:
        return provider.model_count

    def save_model(
        self, request: HttpRequest, obj: Provider, form: ModelForm, change: bool
    ) -> None:
        warning = obj.key_warning()  # before saving: afterwards the key counts as stored
        super().save_model(request, obj, form, change)
        if warning:
            messages.warning(request, f"{obj.name}: {warning}")

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseFormSet, change: bool
    ) -> None:
        models = formset.save(commit=False)
        for model in formset.deleted_objects:
            model.delete()
        for model in models:
            model.save_keeping_one_default()
        formset.save_m2m()


@admin.register(LLMModel)
class LLMModelAdmin(admin.ModelAdmin):
    list_display = ("model_id", "display_name", "provider", "enabled", "is_default", "source")
    list_editable = ("enabled", "is_default")
    list_filter = ("provider", "enabled", "is_default", "source")
    list_select_related = ("provider",)
    search_fields = ("model_id", "display_name")
    readonly_fields = ("source", "first_seen_at", "last_seen_at")

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[ModelForm]:
        return super().get_changelist_form(request, form=ModelRowForm, **kwargs)

    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any) -> type[BaseFormSet]:
        return super().get_changelist_formset(request, formset=ModelChangelistFormSet, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: LLMModel, form: ModelForm, change: bool
    ) -> None:
        obj.save_keeping_one_default()
