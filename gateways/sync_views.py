"""The Gateways page: GPT-Load's status, Sync and Dry run, the running sync's progress
(polled), and the history; and the stats monitoring reads."""

from __future__ import annotations

import hmac

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from gateways import offers, runs, sync, tasks, uniapi
from gateways.gptload import GPTLoadError
from gateways.models import GPTLoadInstance, SyncRun, SyncStatus, TrackedGroup, UniApiTarget
from gateways.views import staff_only
from providers.models import LLMModel, Provider

HISTORY = 20  # runs the page lists


@require_GET
@staff_only
def gateways(request: HttpRequest) -> HttpResponse:
    running = SyncRun.objects.filter(status=SyncStatus.RUNNING).first()
    context = {
        # GPT-Load is asked by the header's first refresh, so a slow one never holds the page.
        "status": _status(check=False),
        "run": running or SyncRun.objects.first(),
        "history": SyncRun.objects.all()[:HISTORY],
        "plan": offers.current_plan(),
        **_uniapi_preview(),
    }
    # Nothing configured, Sync would only fail saying so: its buttons say what to add.
    context["can_sync"] = context["status"]["instance"] is not None or context["uniapi"] is not None
    return render(request, "gateways/gateways.html", context)


def _uniapi_preview() -> dict:
    """The api.yaml a sync would write, every key masked; or why it cannot be written."""
    target = UniApiTarget.objects.first()
    if target is None:
        return {"uniapi": None}
    config, _ = sync.api_yaml(target, GPTLoadInstance.objects.first())
    try:
        return {"uniapi": target, "uniapi_preview": uniapi.preview(config)}
    except uniapi.ApiYamlError as error:
        return {"uniapi": target, "uniapi_error": error.user_message}


@require_POST
@staff_only
def download_api_yaml(request: HttpRequest) -> HttpResponse:
    """The deployable api.yaml, keys in plain: a staff action kept in the history."""
    target = UniApiTarget.objects.first()
    if target is None:
        raise Http404
    config, _ = sync.api_yaml(target, GPTLoadInstance.objects.first())
    try:
        text = uniapi.render(config)
    except uniapi.ApiYamlError as error:
        messages.error(request, error.user_message)
        return redirect("gateways:gateways")
    now = timezone.now()
    SyncRun.objects.create(
        target="uniapi",
        started_by=request.user,
        started_by_name=request.user.get_username(),
        status=SyncStatus.SUCCEEDED,
        step="Download api.yaml",
        changes=[
            {
                "gateway": "uniapi",
                "action": "download",
                "kind": "api.yaml",
                "name": "api.yaml",
                "detail": "the deployable file, keys included",
            }
        ],
        finished_at=now,
    )
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="api.yaml"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@staff_only
def status(request: HttpRequest) -> HttpResponse:
    """The header, refreshed every 30 s: GPT-Load reached or not, its groups, the last sync."""
    return render(request, "gateways/partials/status.html", {"status": _status()})


@require_POST
@staff_only
def start_sync(request: HttpRequest) -> HttpResponse:
    dry_run = request.POST.get("dry_run") == "1"
    try:
        run = runs.begin(target="all", dry_run=dry_run, user=request.user)
    except runs.SyncBusyError as error:
        messages.error(request, error.user_message)
        return redirect("gateways:gateways")
    tasks.sync_gateways.enqueue(run.pk)
    if request.htmx:
        return render(request, "gateways/partials/run.html", {"run": run})
    return redirect("gateways:gateways")


@require_GET
@staff_only
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(SyncRun, pk=pk)
    response = render(request, "gateways/partials/run.html", {"run": run})
    if run.status != SyncStatus.RUNNING:
        # The history gains the run: the page refreshes its table once, out of band.
        history = SyncRun.objects.all()[:HISTORY]
        response.write(
            render(
                request, "gateways/partials/history.html", {"history": history, "oob": True}
            ).content
        )
    return response


@require_GET
@login_not_required
def stats(request: HttpRequest) -> HttpResponse:
    """For monitoring: staff, or `Authorization: Bearer <MONITORING_TOKEN>`. Anyone else
    is sent to log in, as on every page, or (signed in, not staff) told nothing is here."""
    if not (request.user.is_staff or _monitoring(request)):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise Http404
    last = SyncRun.objects.exclude(status=SyncStatus.RUNNING).first()
    return JsonResponse(
        {
            "providers": Provider.objects.filter(enabled=True).count(),
            "models": LLMModel.objects.live().filter(enabled=True).count(),
            "groups": TrackedGroup.objects.count(),
            "sync_running": SyncRun.objects.filter(status=SyncStatus.RUNNING).exists(),
            "last_sync": last
            and {
                "status": last.status,
                "dry_run": last.dry_run,
                "started_at": last.started_at.isoformat(),
                "finished_at": last.finished_at and last.finished_at.isoformat(),
                "changes": len(last.changes),
                "error": last.error,
            },
        }
    )


def _monitoring(request: HttpRequest) -> bool:
    token = settings.MONITORING_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def _status(*, check: bool = True) -> dict:
    instance = GPTLoadInstance.objects.first()
    found = {
        "instance": instance,
        "last": SyncRun.objects.exclude(status=SyncStatus.RUNNING).first(),
        "checking": not check,
        "connected": False,
        "groups": None,
        "error": "",
    }
    if instance is not None and check:
        try:
            found["groups"] = async_to_sync(_count_groups)(instance)
            found["connected"] = True
        except GPTLoadError as error:
            found["error"] = error.user_message
    return found


async def _count_groups(instance: GPTLoadInstance) -> int:
    async with instance.client() as client:
        return len(await client.groups())
