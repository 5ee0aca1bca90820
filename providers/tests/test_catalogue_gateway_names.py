"""Gateway names and deleted models in the catalogue YAML: round trip, and the one-name-
per-provider rule on import."""

from __future__ import annotations

import pytest
import yaml
from django.contrib.auth.models import Group

from providers.catalogue import CatalogueError, export_document, read_document
from providers.models import LLMModel, Provider, Tier
from providers.tests.factories import OPENAI_KEY, make_model, make_openrouter

pytestmark = pytest.mark.django_db

ENV = {"OPENROUTER_API_KEY": OPENAI_KEY}


@pytest.fixture
def openrouter() -> Provider:
    provider = make_openrouter()
    make_model(provider, model_id="deepseek/deepseek-chat", gateway_name="deepseek-chat")
    make_model(provider, model_id="openai/gpt-4o")
    gone = make_model(provider, model_id="old/model", gateway_name="old")
    LLMModel.objects.filter(pk=gone.pk).update(deleted_at="2026-11-30T10:00:00Z")
    return provider


def models_of(document: str) -> list[dict]:
    return yaml.safe_load(document)["providers"][0]["models"]


def test_the_export_carries_gateway_names_and_deletions(openrouter: Provider) -> None:
    models = {m["model_id"]: m for m in models_of(export_document())}

    assert models["deepseek/deepseek-chat"]["gateway_name"] == "deepseek-chat"
    assert models["openai/gpt-4o"]["gateway_name"] == ""
    assert models["old/model"]["deleted"] is True
    assert "deleted" not in models["openai/gpt-4o"]


def test_an_export_imports_back_unchanged_and_into_an_empty_instance(openrouter: Provider) -> None:
    document = export_document()

    plan = read_document(document, env=ENV)
    assert {c.action for c in plan.changes} == {"unchanged"}

    Provider.objects.all().delete()
    Tier.objects.all().delete()
    Group.objects.all().delete()
    read_document(document, env=ENV).apply(prune=False)

    assert export_document() == document
    assert LLMModel.objects.live().count() == 2


def test_an_import_can_swap_names_and_restore_a_model(openrouter: Provider) -> None:
    data = yaml.safe_load(export_document())
    models = {m["model_id"]: m for m in data["providers"][0]["models"]}
    models["deepseek/deepseek-chat"]["gateway_name"] = "gpt-4o"
    models["openai/gpt-4o"]["gateway_name"] = "deepseek-chat"
    del models["old/model"]["deleted"]

    plan = read_document(yaml.safe_dump(data), env=ENV)
    plan.apply(prune=False)

    names = dict(LLMModel.objects.live().values_list("model_id", "gateway_name"))
    assert names == {
        "deepseek/deepseek-chat": "gpt-4o",
        "openai/gpt-4o": "deepseek-chat",
        "old/model": "old",
    }
    updated = {c.name: c.fields for c in plan.changes if c.action == "update"}
    assert updated["OpenRouter/old/model"] == ("deleted",)


def test_a_file_giving_two_models_one_name_is_refused_at_its_path(openrouter: Provider) -> None:
    data = yaml.safe_load(export_document())
    data["providers"][0]["models"][2]["gateway_name"] = "deepseek-chat"  # openai/gpt-4o

    with pytest.raises(CatalogueError) as refused:
        read_document(yaml.safe_dump(data), env=ENV)

    assert refused.value.problems == [
        "providers[0].models[2].gateway_name: deepseek-chat is already the gateway name of "
        "deepseek/deepseek-chat in this provider; two models of one provider cannot share one"
    ]


def test_a_deleted_model_in_the_file_does_not_hold_its_name(openrouter: Provider) -> None:
    data = yaml.safe_load(export_document())
    data["providers"][0]["models"][2]["gateway_name"] = "old"  # old/model's, deleted

    read_document(yaml.safe_dump(data), env=ENV).apply(prune=False)

    assert LLMModel.objects.get(model_id="openai/gpt-4o").gateway_name == "old"


def test_a_name_held_by_a_model_the_file_does_not_list_is_refused_unless_pruned(
    openrouter: Provider,
) -> None:
    data = yaml.safe_load(export_document())
    data["providers"][0]["models"] = [
        m for m in data["providers"][0]["models"] if m["model_id"] != "deepseek/deepseek-chat"
    ]
    data["providers"][0]["models"][1]["gateway_name"] = "deepseek-chat"  # openai/gpt-4o
    document = yaml.safe_dump(data)

    with pytest.raises(CatalogueError) as refused:
        read_document(document, env=ENV).apply(prune=False)

    (problem,) = refused.value.problems
    assert problem.startswith("providers[0].models[1].gateway_name: openai/gpt-4o takes")
    assert "which deepseek/deepseek-chat holds and this file does not list" in problem
    assert LLMModel.objects.get(model_id="openai/gpt-4o").gateway_name == ""

    read_document(document, env=ENV).apply(prune=True)
    assert LLMModel.objects.get(model_id="openai/gpt-4o").gateway_name == "deepseek-chat"


def test_a_gateway_name_the_gateways_refuse_is_refused_at_its_path(openrouter: Provider) -> None:
    data = yaml.safe_load(export_document())
    data["providers"][0]["models"][0]["gateway_name"] = "deep seek"

    with pytest.raises(CatalogueError) as refused:
        read_document(yaml.safe_dump(data), env=ENV)

    (problem,) = refused.value.problems
    assert problem.startswith("providers[0].models[0].gateway_name: A gateway name is up to 200")
