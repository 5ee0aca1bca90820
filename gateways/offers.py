"""What the catalogue offers the gateways: the plan's input, read from the registry."""

from __future__ import annotations

from gateways import plan
from providers.models import LLMModel


def offers() -> list[plan.Offer]:
    """Every enabled, live (not deleted) model of an enabled provider."""
    rows = (
        LLMModel.objects.live()
        .filter(enabled=True, provider__enabled=True)
        .values_list(
            "provider__name", "provider__protocol", "provider__base_url", "model_id", "gateway_name"
        )
    )
    return [
        plan.Offer(provider, protocol, base_url, model_id, gateway_name or model_id)
        for provider, protocol, base_url, model_id, gateway_name in rows
    ]


def current_plan() -> plan.Plan:
    return plan.build(offers())
