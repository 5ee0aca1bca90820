"""Pages about the registry that every signed-in person may see."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from providers.models import LLMModel, Provider


def catalogue(request: HttpRequest) -> HttpResponse:
    """The providers and their enabled models, with whether each can be used yet."""
    providers = Provider.objects.prefetch_related(
        Prefetch("models", queryset=LLMModel.objects.filter(enabled=True), to_attr="enabled_models")
    )
    return render(request, "providers/catalogue.html", {"providers": providers})
