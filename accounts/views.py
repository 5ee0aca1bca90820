"""The personal settings page: a default model, and one's own keys."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import DefaultModelForm, PersonalKeyForm
from accounts.models import PersonalSettings
from providers.models import PersonalKey, Provider


def _key_providers() -> list[Provider]:
    """Providers a person may bring a key to: enabled, keyed, and allowing it."""
    providers = Provider.objects.filter(enabled=True, allow_personal_keys=True)
    return [p for p in providers if p.preset_info.requires_key or p.preset == "custom"]


def settings_page(request: HttpRequest) -> HttpResponse:
    own = PersonalSettings.objects.filter(user=request.user).first()
    keys = {k.provider_id: k for k in PersonalKey.objects.filter(user=request.user)}
    form = DefaultModelForm(
        user=request.user, initial={"model": own.default_model_id if own else ""}
    )
    rows = [(provider, keys.get(provider.pk), PersonalKeyForm()) for provider in _key_providers()]
    return render(request, "accounts/settings.html", {"form": form, "rows": rows})


@require_POST
def save_default_model(request: HttpRequest) -> HttpResponse:
    form = DefaultModelForm(request.POST, user=request.user)
    if form.is_valid():
        PersonalSettings.objects.update_or_create(
            user=request.user, defaults={"default_model": form.cleaned_data["model"]}
        )
        messages.success(request, "Default model saved.")
    else:
        messages.error(request, " ".join(form.errors["model"]))
    return redirect("accounts:settings")


@require_POST
def save_key(request: HttpRequest, provider_id: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=provider_id, allow_personal_keys=True)
    form = PersonalKeyForm(request.POST)
    if form.is_valid():
        PersonalKey.objects.update_or_create(
            user=request.user, provider=provider, defaults={"api_key": form.cleaned_data["api_key"]}
        )
        messages.success(request, f"Your key for {provider.name} is saved.")
    else:
        messages.error(request, f"{provider.name}: {' '.join(form.errors['api_key'])}")
    return redirect("accounts:settings")


@require_POST
def remove_key(request: HttpRequest, provider_id: int) -> HttpResponse:
    removed, _ = PersonalKey.objects.filter(user=request.user, provider_id=provider_id).delete()
    if removed:
        messages.success(request, "Your key is removed; the team's key is used again.")
    else:
        messages.error(request, "You have no key of your own for this provider to remove.")
    return redirect("accounts:settings")
