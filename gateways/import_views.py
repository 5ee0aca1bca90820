"""Import on the Gateways page: read GPT-Load or an uploaded api.yaml, show what would come
into the catalogue with its conflicts, and apply it when confirmed."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from gateways import importing
from gateways.views import staff_only
from providers.errors import UserFacingError


@require_POST
@staff_only
def import_gateway(request: HttpRequest) -> HttpResponse:
    """Shown first (`apply` absent); applied when the shown form is confirmed, from the
    source read afresh, so what is applied is what the catalogue and the gateway hold now."""
    source = request.POST.get("source")
    text = request.POST.get("text", "")
    try:
        if source == "gptload":
            found = importing.read_gptload()
        else:
            upload = request.FILES.get("file")
            if upload is not None:
                if upload.size > importing.MAX_YAML_BYTES:
                    raise UserFacingError("This file is over 1 MiB: no api.yaml is that large.")
                text = upload.read().decode()
            found = importing.from_api_yaml(text)
    except UnicodeDecodeError:
        messages.error(request, "This file is not text (UTF-8): is it an api.yaml?")
        return redirect("gateways:gateways")
    except UserFacingError as error:
        messages.error(request, error.user_message)
        return redirect("gateways:gateways")
    plan = importing.compare(found)
    if request.POST.get("apply") == "1" and plan.changes:
        made = importing.apply(plan)
        messages.success(
            request,
            f"{made} change(s) made; {len(plan.conflicts)} conflict(s) left as they were. "
            "The new providers are switched off until you verify and enable them.",
        )
        return redirect("gateways:gateways")
    context = {"plan": plan, "source": source, "text": text}
    return render(request, "gateways/import.html", context)
