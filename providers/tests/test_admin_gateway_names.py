"""Gateway names and deleted models in the admin: one name per provider, checked with the
other model named; swaps in one save; delete and restore actions."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from providers.models import LLMModel, Provider
from providers.tests.factories import make_model, make_openrouter
from providers.tests.html_forms import form_fields
from providers.tests.test_admin import post_change

pytestmark = pytest.mark.django_db


@pytest.fixture
def openrouter() -> Provider:
    provider = make_openrouter()
    make_model(provider, model_id="deepseek/deepseek-chat", gateway_name="deepseek-chat")
    make_model(provider, model_id="openai/gpt-4o", gateway_name="gpt-4o")
    return provider


def test_the_model_form_refuses_a_name_another_model_has(
    staff_client: Client, openrouter: Provider
) -> None:
    model = LLMModel.objects.get(model_id="openai/gpt-4o")
    url = reverse("admin:providers_llmmodel_change", args=[model.pk])
    data = form_fields(staff_client.get(url).content.decode(), "llmmodel_form")

    response = staff_client.post(url, data | {"gateway_name": "deepseek-chat"})

    assert response.status_code == 200
    assert (
        "OpenRouter already serves deepseek-chat to the gateways as its model "
        "deepseek/deepseek-chat" in response.content.decode()
    )
    assert LLMModel.objects.get(pk=model.pk).gateway_name == "gpt-4o"


def test_the_providers_rows_refuse_one_name_twice(
    staff_client: Client, openrouter: Provider
) -> None:
    response = post_change(staff_client, openrouter, **{"models-1-gateway_name": "deepseek-chat"})

    assert response.status_code == 200
    assert "openai/gpt-4o: OpenRouter already serves deepseek-chat" in response.content.decode()


def test_the_providers_rows_can_swap_two_names_in_one_save(
    staff_client: Client, openrouter: Provider
) -> None:
    swap: dict[str, Any] = {
        "models-0-gateway_name": "gpt-4o",
        "models-1-gateway_name": "deepseek-chat",
    }

    response = post_change(staff_client, openrouter, **swap)

    assert response.status_code == 302
    assert dict(LLMModel.objects.values_list("model_id", "gateway_name")) == {
        "deepseek/deepseek-chat": "gpt-4o",
        "openai/gpt-4o": "deepseek-chat",
    }


def run_action(client: Client, action: str, models: list[LLMModel]) -> Any:
    return client.post(
        reverse("admin:providers_llmmodel_changelist"),
        {"action": action, "_selected_action": [m.pk for m in models]},
        follow=True,
    )


def test_marking_deleted_and_restoring_from_the_list(
    staff_client: Client, openrouter: Provider
) -> None:
    model = LLMModel.objects.get(model_id="openai/gpt-4o")

    deleted = run_action(staff_client, "mark_deleted", [model])
    assert "Marked 1 models deleted" in deleted.content.decode()
    assert LLMModel.objects.get(pk=model.pk).is_deleted

    restored = run_action(staff_client, "restore_selected", [model])
    assert "Restored 1 models." in restored.content.decode()
    assert not LLMModel.objects.get(pk=model.pk).is_deleted


def test_deleting_every_model_of_a_provider_from_the_list_is_sent_to_its_names_page(
    staff_client: Client, openrouter: Provider
) -> None:
    response = run_action(staff_client, "mark_deleted", list(openrouter.models.all()))

    page = response.content.decode()
    assert "Nothing was deleted: this deletes every model of OpenRouter." in page
    assert reverse("gateways:model_names", args=[openrouter.pk]) in page
    assert LLMModel.objects.live().count() == 2


def test_a_restore_refused_names_the_model_holding_the_name(
    staff_client: Client, openrouter: Provider
) -> None:
    old = LLMModel.objects.get(model_id="openai/gpt-4o")
    run_action(staff_client, "mark_deleted", [old])
    make_model(openrouter, model_id="gpt-4o")

    response = run_action(staff_client, "restore_selected", [old])
    page = response.content.decode()
    assert "The model openai/gpt-4o stays deleted: OpenRouter already serves gpt-4o" in page
    assert "Restored" not in page


def test_the_provider_links_to_its_names_page(staff_client: Client, openrouter: Provider) -> None:
    url = reverse("gateways:model_names", args=[openrouter.pk])

    change = staff_client.get(reverse("admin:providers_provider_change", args=[openrouter.pk]))
    listing = staff_client.get(reverse("admin:providers_provider_changelist"))

    assert url in change.content.decode()
    assert url in listing.content.decode()
