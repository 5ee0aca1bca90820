"""Admin for providers and their models: the registry's main editing surface."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Field, QuerySet
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from providers import catalogue, health, validators
from providers.errors import UserFacingError
from providers.forms import (
    ModelChangelistFormSet,
    ModelInlineFormSet,
    ModelRowForm,
    ProviderForm,
)
from providers.keys import encryption
from providers.keys.encryption import UnreadableSecretError
from providers.models import Fallback, LLMModel, Provider, Tier
from providers.upstream import discovery, verification

admin.site.site_header = "Switchboard administration"
admin.site.site_title = "Switchboard"


class _ListsSettingKeys:
    """The settings field's help names the keys the validators know. It is added to the
    form, not to the model's help_text, which a migration would have to follow each time a
    key is added."""

    setting_keys: Collection[str]

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        if db_field.name == "settings" and field is not None:
            keys = ", ".join(sorted(self.setting_keys))
            field.help_text = f"{field.help_text} Known keys: {keys}."
        return field


class _ShowsHealth:
    """Health columns for a changelist: the page's rows' health, asked for all of them in
    one go when the page's rows are read (providers.health), never a query per row."""

    health_of: Callable[[Collection[int]], Mapping[int, health.Health]]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        health_of = self.health_of

        class WithHealth(super().get_changelist(request, **kwargs)):  # type: ignore[misc]
            def get_results(self, request: HttpRequest) -> None:
                super().get_results(request)
                found = health_of([row.pk for row in self.result_list])
                for row in self.result_list:
                    row.health = found.get(row.pk, health.UNKNOWN)

        return WithHealth

    @admin.display(description="health")
    def health_status(self, obj: Any) -> str:
        return getattr(obj, "health", health.UNKNOWN).badge

    @admin.display(description="last hour")
    def health_last_hour(self, obj: Any) -> str:
        return getattr(obj, "health", health.UNKNOWN).last_hour

    @admin.display(description="last 24 h")
    def health_last_day(self, obj: Any) -> str:
        return getattr(obj, "health", health.UNKNOWN).last_day


HEALTH_COLUMNS = ("health_status", "health_last_hour", "health_last_day")


class LLMModelInline(admin.TabularInline):
    model = LLMModel
    form = ModelRowForm
    formset = ModelInlineFormSet
    fields = ("model_id", "display_name", "gateway_name", "enabled", "is_default", "source")
    readonly_fields = ("source",)
    extra = 1
    show_change_link = True


@admin.register(Provider)
class ProviderAdmin(_ShowsHealth, _ListsSettingKeys, admin.ModelAdmin):
    setting_keys = validators.PROVIDER_SETTINGS
    health_of = staticmethod(health.of_providers)
    form = ProviderForm
    inlines = [LLMModelInline]
    list_display = (
        "name",
        "preset",
        "protocol",
        "enabled",
        "key",
        "model_count",
        "names_link",
        "status",
        *HEALTH_COLUMNS,
    )
    list_filter = ("preset", "protocol", "enabled", "is_builtin")
    search_fields = ("name", "base_url")
    actions = ["verify_selected", "fetch_models_selected", "export_selected"]
    change_list_template = "admin/providers/provider/change_list.html"
    change_form_template = "admin/providers/provider/change_form.html"

    class Media:
        css = {"all": ("css/admin.css",)}

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
                    "allow_personal_keys",
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

    @admin.display(description="Gateway names")
    def names_link(self, provider: Provider) -> str:
        return format_html(
            '<a href="{}">Edit names</a>', reverse("gateways:model_names", args=[provider.pk])
        )

    @admin.display(description="Last verified", ordering="last_verified_at")
    def status(self, provider: Provider) -> str:
        if provider.last_verification_ok is None:
            return "—"
        if provider.last_verification_ok:
            return f"OK, {provider.last_latency_ms} ms"
        return provider.last_error.split(":", 1)[0]  # the category: "bad key", "timeout", …

    # --- verify and fetch models: buttons on the change page, and bulk actions -----------

    def get_urls(self) -> list[URLPattern]:
        def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            # State changes on POST only, so a link or a prefetch changes nothing; a GET
            # of Verify or Fetch models shows what the button does, with the button.
            return self.admin_site.admin_view(require_http_methods(["GET", "POST"])(function))

        return [
            path("<int:pk>/verify/", view(self.verify_view), name="providers_provider_verify"),
            path(
                "<int:pk>/fetch-models/",
                view(self.fetch_models_view),
                name="providers_provider_fetch_models",
            ),
            path("import/", self.admin_site.admin_view(self.import_view), name="providers_import"),
            path(
                "enable-models/",
                self.admin_site.admin_view(require_POST(self.enable_models_view)),
                name="providers_provider_enable_models",
            ),
            *super().get_urls(),
        ]

    @admin.action(description="Verify selected providers")
    def verify_selected(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider, result in verification.verify_providers(list(queryset)):
            level = messages.SUCCESS if result.ok else messages.ERROR
            text = f"{provider.name}: {result.summary}"
            if result.ok and not provider.enabled:
                # A check never switches a provider on: staff verify providers they keep
                # off on purpose too, and going live for everyone is their explicit step.
                text += (
                    ". It is still switched off: tick “Enabled” on its page and save, so "
                    "people can use its models."
                )
            self.message_user(request, text, level)

    @admin.action(description="Fetch models for selected providers")
    def fetch_models_selected(
        self, request: HttpRequest, queryset: QuerySet[Provider]
    ) -> TemplateResponse:
        return self._discovery_page(request, list(queryset))

    @admin.action(description="Export selected as YAML")
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Provider]) -> HttpResponse:
        response = HttpResponse(
            catalogue.export_document(list(queryset)), content_type="application/yaml"
        )
        response["Content-Disposition"] = 'attachment; filename="switchboard-catalogue.yaml"'
        return response

    @method_decorator(sensitive_post_parameters("document"))  # it may hold plain keys
    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Paste or upload a catalogue, see the dry-run plan, then apply it on confirmation."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a catalogue",
            "document": request.POST.get("document", ""),
            "prune": bool(request.POST.get("prune")),
            "reads_env": settings.CATALOGUE_ADMIN_READS_ENV,
            "max_kib": catalogue.MAX_BYTES // 1024,
        }
        if request.method == "POST":
            try:
                text, context["sealed"] = _submitted(request)
                plan = catalogue.read_document(text, env=_admin_import_env())
            except catalogue.CatalogueError as error:
                context["problems"] = error.problems
            else:
                if "apply" not in request.POST:
                    context["plan"] = plan
                else:
                    try:
                        applied = plan.apply(prune=context["prune"])
                    except catalogue.CatalogueError as error:
                        context["problems"] = error.problems
                    else:
                        self.message_user(request, f"Catalogue imported: {len(applied)} changes.")
                        changelist = reverse("admin:providers_provider_changelist")
                        return HttpResponseRedirect(changelist)
        return TemplateResponse(request, "admin/providers/provider/import.html", context)

    def verify_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        provider = self._provider_to_change(request, pk)
        if request.method != "POST":
            return self._tool_page(request, provider, "verify")
        self.verify_selected(request, Provider.objects.filter(pk=provider.pk))
        return HttpResponseRedirect(reverse("admin:providers_provider_change", args=[pk]))

    def fetch_models_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET: the provider's models page (what Fetch does; its switched-off models, to
        enable at any time). POST: fetch, and show what is new."""
        provider = self._provider_to_change(request, pk)
        if request.method != "POST":
            return self._tool_page(request, provider, "fetch")
        return self._discovery_page(request, [provider])

    def _tool_page(self, request: HttpRequest, provider: Provider, tool: str) -> TemplateResponse:
        titles = {"verify": f"Verify {provider.name}", "fetch": f"Models of {provider.name}"}
        context = {
            **self.admin_site.each_context(request),
            "title": titles[tool],
            "tool": tool,
            "provider": provider,
            "opts": self.model._meta,
            "verification_model": provider.verification_model(),
            "switched_off": _switched_off([provider]),
        }
        return TemplateResponse(request, "admin/providers/provider/tool.html", context)

    def _discovery_page(self, request: HttpRequest, providers: list[Provider]) -> TemplateResponse:
        outcomes = []
        for provider in providers:
            try:
                outcomes.append((provider, discovery.fetch_models(provider), ""))
            except UserFacingError as error:
                outcomes.append((provider, None, error.description))
        new = [model for _, summary, _ in outcomes if summary for model in summary.new]
        context = {
            **self.admin_site.each_context(request),
            "title": "Fetched models",
            "opts": self.model._meta,
            "outcomes": outcomes,
            "provider": providers[0] if len(providers) == 1 else None,
            "switched_off": _switched_off(providers),
            "checked": {model.pk for model in new},
        }
        return TemplateResponse(request, "admin/providers/provider/discovery.html", context)

    @staticmethod
    def enable_models_view(request: HttpRequest) -> HttpResponse:
        """Switch on the models ticked; back to the provider's models page when one sent."""
        if not request.user.has_perm("providers.change_llmmodel"):
            raise PermissionDenied
        ids = [pk for pk in request.POST.getlist("model") if pk.isdigit()]
        enabled = LLMModel.objects.live().filter(pk__in=ids, enabled=False).update(enabled=True)
        if enabled:
            messages.success(request, f"Enabled {enabled} model{pluralize(enabled)}.")
        else:
            messages.warning(request, "No model was ticked: nothing was enabled.")
        provider = request.POST.get("provider", "")
        if provider.isdigit() and Provider.objects.filter(pk=provider).exists():
            return HttpResponseRedirect(
                reverse("admin:providers_provider_fetch_models", args=[provider])
            )
        return HttpResponseRedirect(reverse("admin:providers_llmmodel_changelist"))

    def _provider_to_change(self, request: HttpRequest, pk: int) -> Provider:
        provider = get_object_or_404(Provider, pk=pk)
        if not self.has_change_permission(request, provider):
            raise PermissionDenied
        return provider

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
        renamed = [f.instance.pk for f in formset.forms if "gateway_name" in f.changed_data]
        LLMModel.objects.filter(pk__in=[pk for pk in renamed if pk]).park_gateway_names()
        for model in models:
            model.save_keeping_one_default()
        formset.save_m2m()


@sensitive_variables("text")
def _switched_off(providers: list[Provider]) -> QuerySet[LLMModel]:
    """The providers' models not deleted and not enabled: what may be switched on."""
    return (
        LLMModel.objects.live()
        .filter(provider__in=providers, enabled=False)
        .select_related("provider")
        .order_by("provider__name", "model_id")
    )


def _submitted(request: HttpRequest) -> tuple[str, str]:
    """The catalogue posted, and the same sealed for the page ("" for pasted text).

    An uploaded file goes back to the page encrypted, in a hidden field, not into the
    box: a file in the flat JSON format carries plain keys, and "Apply" must send
    what the plan showed without the page ever holding them. CatalogueError when there
    is nothing to read.
    """
    if upload := request.FILES.get("file"):
        if upload.size > catalogue.MAX_BYTES:  # Django has stored it; it is not read here
            raise catalogue.CatalogueError([catalogue.TOO_BIG])
        text = catalogue.decode(upload.read())
        return text, encryption.encrypt(text)
    if request.POST.get("document", "").strip():
        return request.POST["document"], ""
    if sealed := request.POST.get("sealed"):
        try:
            return encryption.decrypt(sealed), sealed
        except UnreadableSecretError:
            raise catalogue.CatalogueError(
                ["(document): the uploaded file can no longer be read here; upload it again"]
            ) from None
    raise catalogue.CatalogueError(["(document): paste a catalogue or choose a file"])


def _admin_import_env() -> Mapping[str, str] | None:
    """Staff may import a catalogue; reading the server's environment is the operator's
    call (providers/keys/variables.py)."""
    return settings.CATALOGUE_KEY_ENV if settings.CATALOGUE_ADMIN_READS_ENV else None


class ListedUpstreamFilter(admin.SimpleListFilter):
    title = "upstream list"
    parameter_name = "listed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Listed"), ("no", "No longer listed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[LLMModel]) -> QuerySet[LLMModel]:
        if self.value() in ("yes", "no"):
            return queryset.filter(missing_since__isnull=self.value() == "yes")
        return queryset


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("no", "Live"), ("yes", "Deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[LLMModel]) -> QuerySet[LLMModel]:
        if self.value() in ("yes", "no"):
            return queryset.filter(deleted_at__isnull=self.value() == "no")
        return queryset


class FallbackInline(admin.TabularInline):
    model = Fallback
    fk_name = "model"
    fields = ("position", "fallback")
    autocomplete_fields = ("fallback",)
    extra = 0
    verbose_name = "fallback"
    verbose_name_plural = (
        "fallbacks: tried in order when this model fails before its first token (a timeout, "
        "a connection error, a 429 or a 5xx)"
    )


@admin.register(LLMModel)
class LLMModelAdmin(_ShowsHealth, _ListsSettingKeys, admin.ModelAdmin):
    setting_keys = validators.MODEL_SETTINGS
    health_of = staticmethod(health.of_models)
    inlines = [FallbackInline]
    list_display = (
        "model_id",
        "display_name",
        "gateway",
        "provider",
        "enabled",
        "is_default",
        "source",
        "missing_since",
        "deleted_at",
        *HEALTH_COLUMNS,
    )
    list_editable = ("enabled", "is_default")
    list_filter = (
        "provider",
        "enabled",
        "is_default",
        "source",
        ListedUpstreamFilter,
        DeletedFilter,
    )
    actions = ["mark_deleted", "restore_selected"]
    list_select_related = ("provider",)
    # Each row carries four widgets (its action box, two editable boxes, its id), each
    # rendered through templates: with 2,000 models Django's 100 rows took 89 ms on this
    # two-core machine (140 when busy), 50 take 52. The provider filter and search find
    # the rest.
    list_per_page = 50
    search_fields = ("model_id", "display_name")
    readonly_fields = ("source", "first_seen_at", "last_seen_at", "missing_since", "deleted_at")
    filter_horizontal = ("allowed_tiers",)

    @admin.display(description="Gateway name")
    def gateway(self, model: LLMModel) -> str:
        return model.effective_gateway_name

    @admin.action(description="Mark selected models deleted (kept for history, restorable)")
    def mark_deleted(self, request: HttpRequest, queryset: QuerySet[LLMModel]) -> None:
        chosen = list(queryset.live().values_list("pk", flat=True))
        emptied = Provider.objects.filter(models__pk__in=chosen).exclude(
            models__in=LLMModel.objects.live().exclude(pk__in=chosen)
        )
        emptied = list(emptied.distinct())
        for provider in emptied:
            messages.error(
                request,
                format_html(
                    "Nothing was deleted: this deletes every model of {}. Do that on "
                    '<a href="{}">its gateway names page</a>, which asks you to confirm.',
                    provider.name,
                    reverse("gateways:model_names", args=[provider.pk]),
                ),
            )
        if emptied:
            return
        now = timezone.now()
        count = LLMModel.objects.filter(pk__in=chosen).update(deleted_at=now, updated_at=now)
        messages.success(request, f"Marked {count} models deleted; Restore brings them back.")

    @admin.action(description="Restore selected deleted models")
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[LLMModel]) -> None:
        restored = 0
        for model in queryset.exclude(deleted_at=None).select_related("provider"):
            try:
                model.restore()
                restored += 1
            except ValidationError as refused:
                messages.error(
                    request, f"The model {model.model_id} stays deleted: {refused.messages[0]}"
                )
        if restored:
            messages.success(request, f"Restored {restored} models.")

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[ModelForm]:
        return super().get_changelist_form(request, form=ModelRowForm, **kwargs)

    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any) -> type[BaseFormSet]:
        return super().get_changelist_formset(request, formset=ModelChangelistFormSet, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: LLMModel, form: ModelForm, change: bool
    ) -> None:
        obj.save_keeping_one_default()


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "group",
        "default_model",
        "daily_token_quota",
        "monthly_cost_budget",
        "is_default",
    )
    list_select_related = ("group", "default_model__provider")
    search_fields = ("name", "description")
    autocomplete_fields = ("default_model",)

    def save_model(self, request: HttpRequest, obj: Tier, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        obj.ensure_group()
