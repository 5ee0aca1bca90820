"""Pages about the registry that every signed-in person may see."""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from providers import access
from providers.models import Provider


def model_list(request: HttpRequest) -> HttpResponse:
    """The models this person may use, by provider, with each provider's last check."""
    # Plain rows of the four columns shown, and each provider once: with 2,000 models, a
    # model and a provider instance per row was most of the page's time.
    rows = (
        access.available_models(request.user)
        .select_related(None)
        .order_by("provider__name", "-is_default", "model_id")
        .values("provider_id", "model_id", "display_name", "is_default")
    )
    rows_by_provider = groupby(rows, key=itemgetter("provider_id"))
    by_provider = [(provider_id, list(models)) for provider_id, models in rows_by_provider]
    providers = Provider.objects.in_bulk([provider_id for provider_id, _ in by_provider])
    context = {
        "by_provider": [(providers[provider_id], models) for provider_id, models in by_provider],
        "tiers": access.tiers_for(request.user),
    }
    return render(request, "providers/model_list.html", context)
