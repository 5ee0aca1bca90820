"""The usage dashboard: a person's own usage, or everyone's for staff."""

from __future__ import annotations

from types import ModuleType
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from usage import dashboard, export
from usage.scope import ScopeForm, suggestions


def _charts() -> ModuleType:
    """usage.charts, imported by the first dashboard a worker serves: pygal, which only
    this page draws with, is 4.5 MB that every worker held from its start, beside the
    streams (bench/README.md)."""
    from usage import charts

    return charts


@require_GET
def usage(request: HttpRequest) -> HttpResponse:
    """The page, or for htmx (a filter changed) its results alone; the filters are the
    query string, so a view can be shared by its URL."""
    form = ScopeForm(request.GET, staff=request.user.is_staff)
    context = {"form": form}
    if form.is_valid():
        board = dashboard.build(form.scope(request.user.pk), request.user)
        context |= {
            "board": board,
            "charts": _charts().draw(board),
            "query": _query(form),
        }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "usage/partials/results.html", context)
    context |= {"suggestions": suggestions(request.user), "pygal_version": _charts().VERSION}
    return render(request, "usage/dashboard.html", context)


@require_GET
def records_csv(request: HttpRequest) -> HttpResponse:
    form = ScopeForm(request.GET, staff=request.user.is_staff)
    if not form.is_valid():
        errors = "; ".join(message for messages in form.errors.values() for message in messages)
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    scope = form.scope(request.user.pk)
    return StreamingHttpResponse(
        export.rows(scope),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.filename(scope)}"'},
    )


def _query(form: ScopeForm) -> str:
    """The filters as a query string, the dates spelled out: the CSV link and a shared
    URL mean the same days tomorrow."""
    return urlencode({name: value for name, value in form.cleaned_data.items() if value})


@require_GET
@cache_control(max_age=24 * 3600, private=True)
def charts_css(request: HttpRequest) -> HttpResponse:
    """The charts' own rules (usage.charts.stylesheet); its URL names pygal's version."""
    return HttpResponse(_charts().stylesheet(), content_type="text/css; charset=utf-8")
