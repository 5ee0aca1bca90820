"""Pages about the registry that every signed-in person may see."""

from __future__ import annotations

from itertools import groupby

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from providers import access, picker


def model_list(request: HttpRequest) -> HttpResponse:
    """The models this person may use, by provider, with each provider's last check."""
    available = access.available_models(request.user).order_by(
        "provider__name", "-is_default", "model_id"
    )
    by_provider = [(p, list(models)) for p, models in groupby(available, key=lambda m: m.provider)]
    context = {"by_provider": by_provider, "tiers": access.tiers_for(request.user)}
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
