"""Pages about the registry that every signed-in person may see."""

from __future__ import annotations

from itertools import groupby

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from providers import access


def model_list(request: HttpRequest) -> HttpResponse:
    """The models this person may use, by provider, with each provider's last check."""
    available = access.available_models(request.user).order_by(
        "provider__name", "-is_default", "model_id"
    )
    by_provider = [(p, list(models)) for p, models in groupby(available, key=lambda m: m.provider)]
    context = {"by_provider": by_provider, "tiers": access.tiers_for(request.user)}
    return render(request, "providers/model_list.html", context)
