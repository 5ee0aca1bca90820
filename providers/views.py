"""Pages about the registry that every signed-in person may see."""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from providers import access, health, picker, seeding
from providers.models import Provider


def model_list(request: HttpRequest) -> HttpResponse:
    """The models this person may use, by provider, with each provider's last check."""
    # Plain rows of the four columns shown, and each provider once: with 2,000 models, a
    # model and a provider instance per row was most of the page's time.
    rows = (
        access.available_models(request.user)
        .select_related(None)
        .order_by("provider__name", "-is_default", "model_id")
        .values("pk", "provider_id", "model_id", "display_name", "is_default")
    )
    rows_by_provider = groupby(rows, key=itemgetter("provider_id"))
    by_provider = [(provider_id, list(models)) for provider_id, models in rows_by_provider]
    providers = Provider.objects.in_bulk([provider_id for provider_id, _ in by_provider])
    models_health = health.of_models([m["pk"] for _, models in by_provider for m in models])
    providers_health = health.of_providers(list(providers))
    for provider in providers.values():
        provider.health = providers_health.get(provider.pk, health.UNKNOWN)
    for _, models in by_provider:
        for model in models:
            model["health"] = models_health.get(model["pk"], health.UNKNOWN)
    context = {
        # A provider deleted between the two queries is left out, not a KeyError.
        "by_provider": [
            (providers[provider_id], models)
            for provider_id, models in by_provider
            if provider_id in providers
        ],
        "tiers": access.tiers_for(request.user),
    }
    if not context["by_provider"]:
        context |= seeding.first_steps(request.user)
    return render(request, "providers/model_list.html", context)


@require_GET
def model_search(request: HttpRequest) -> HttpResponse:
    """The picker's options for what was typed in its search box: its `q`, the selected
    `model` to keep, and the page's shortlist (`keep`) to show again when `q` is cleared."""
    offer = picker.search(
        request.user,
        request.GET.get("q", ""),
        selected=next(iter(_pks(request.GET.getlist("model"))), None),
        keep=_pks(request.GET.getlist("keep"))[: picker.SEARCH_LIMIT],
        automatic=request.GET.get("automatic") == "1",
    )
    return render(request, "providers/partials/model_options.html", {"offer": offer})


def _pks(values: list[str]) -> list[int]:
    # Up to 18 ASCII digits: a longer number overflows the database's integer.
    return [int(v) for v in values if v.isascii() and v.isdigit() and len(v) <= 18]
