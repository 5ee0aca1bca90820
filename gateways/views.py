"""The model names page: staff clean up one provider's gateway names in a batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods, require_POST

from gateways import names, offers, plan
from providers.models import LLMModel, Provider
from usage import report


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A 404 for anyone else: the page's existence is staff business too."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


@dataclass
class Row:
    model: LLMModel
    value: str  # what the name input holds: the saved name, or the one posted
    marked: bool  # pending deletion
    tries: int
    shared_with: tuple[str, ...]
    error: str = ""

    @property
    def last_seen(self) -> datetime | None:
        return self.model.last_seen_at


@staff_only
@require_http_methods(["GET", "POST"])
def model_names(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    edits: dict[int, names.Edit] = {}
    context: dict[str, Any] = {}
    if request.method == "POST":
        edits = _posted_edits(request)
        try:
            outcome = names.save(
                provider, edits, every_model_confirmed=request.POST.get("every_model") == "1"
            )
        except names.NamesRefused as refused:
            context |= {
                "refused": refused,
                "every_model": isinstance(refused, names.DeletesEveryModel),
            }
        else:
            context["saved"] = outcome.summary() or "nothing to change"
            edits = {}
    refused = context.get("refused")
    current = offers.current_plan()
    rows = _rows(provider, current, edits, refused.rows if refused else {})
    context |= {"provider": provider, "rows": rows, "plan": current}
    template = "gateways/partials/names.html" if request.htmx else "gateways/model_names.html"
    return render(request, template, context)


@staff_only
@require_POST
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    """One click brings a deleted model back: its row, live, and the plan as it now is."""
    model = get_object_or_404(LLMModel.objects.select_related("provider"), pk=pk)
    error = ""
    if model.is_deleted:
        try:
            model.restore()
        except ValidationError as refused:
            error = refused.messages[0]
    current = offers.current_plan()
    (row,) = _rows(model.provider, current, {}, {model.pk: error} if error else {}, only=model)
    context = {"row": row, "provider": model.provider, "plan": current}
    return render(request, "gateways/partials/restored.html", context)


def _posted_edits(request: HttpRequest) -> dict[int, names.Edit]:
    """name-<pk> holds a row's gateway name; delete-<pk> marks it for deletion. The page
    posts only the rows with a pending change."""
    edits: dict[int, names.Edit] = {}
    for key in request.POST:
        kind, _, pk = key.partition("-")
        if kind not in ("name", "delete") or not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
            continue
        edits[int(pk)] = names.Edit(
            gateway_name=request.POST.get(f"name-{pk}"),
            delete=request.POST.get(f"delete-{pk}") == "1",
        )
    return edits


def _rows(
    provider: Provider,
    current: plan.Plan,
    edits: dict[int, names.Edit],
    errors: dict[int, str],
    only: LLMModel | None = None,
) -> list[Row]:
    shared = current.shared
    tries = report.tries_by_model(provider.name)
    models = [only] if only else list(provider.models.order_by("deleted_at", "model_id"))
    rows = []
    for model in models:
        edit = edits.get(model.pk, names.Edit())
        name = edit.gateway_name if edit.gateway_name is not None else model.gateway_name
        rows.append(
            Row(
                model=model,
                value=name,
                marked=edit.delete and not model.is_deleted,
                tries=tries.get(model.model_id, 0),
                shared_with=tuple(
                    p for p in shared.get(model.effective_gateway_name, ()) if p != provider.name
                ),
                error=errors.get(model.pk, ""),
            )
        )
    return rows
