from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from providers.models import LLMModel, Provider
from providers.tests.factories import OPENAI_KEY, make_model, make_provider

pytestmark = pytest.mark.django_db


def test_the_models_page_lists_what_the_user_may_use_by_provider(
    client: Client, user: User
) -> None:
    openai = make_provider()
    make_model(openai, model_id="gpt-4o", display_name="GPT-4o", is_default=True)
    make_model(openai, model_id="gpt-3.5-turbo", enabled=False)
    groq = make_provider(
        name="Groq", preset="groq", base_url="https://api.groq.com/openai/v1", enabled=False
    )
    make_model(groq, model_id="llama-3.3-70b-versatile")
    client.force_login(user)

    response = client.get(reverse("providers:models"))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="model-name">GPT-4o</span> <code>gpt-4o</code> <span class="badge">' in html
    assert "gpt-3.5-turbo" not in html
    assert "Groq" not in html
    assert "Not verified yet" in html
    assert OPENAI_KEY[:5] not in html  # not even the masked key is shown here
    assert "Manage providers" not in html


def test_with_nothing_available_staff_get_the_chats_first_steps(staff_client: Client) -> None:
    call_command("seed_providers", stdout=io.StringIO())  # as `make run` leaves it: no key yet
    ollama = Provider.objects.get(preset="ollama")

    html = staff_client.get(reverse("providers:models")).content.decode()

    assert "No model is available to you yet" in html
    providers = reverse("admin:providers_provider_changelist")
    assert f'<strong>Add an API key</strong>: open <a href="{providers}">Providers</a>' in html
    assert "<code>ollama serve</code>, then <code>ollama pull llama3.2</code>" in html
    assert reverse("admin:providers_provider_change", args=[ollama.pk]) in html
    assert "seed_providers" not in html  # `make run` has seeded them already


def add_catalogue(name: str, *, providers: int, models: int) -> None:
    """`providers` more providers of `models` enabled models each."""
    for p in range(providers):
        provider = make_provider(name=f"{name} {p}", base_url=f"https://{name}{p}.example.com/v1")
        LLMModel.objects.bulk_create(
            LLMModel(provider=provider, model_id=f"model-{m}", display_name=f"Model {m}")
            for m in range(models)
        )


def test_the_models_page_makes_as_many_queries_for_a_large_catalogue_as_a_small_one(
    client: Client, user: User
) -> None:
    client.force_login(user)
    url = reverse("providers:models")
    add_catalogue("small", providers=1, models=2)
    with CaptureQueriesContext(connection) as small:
        client.get(url)

    add_catalogue("large", providers=4, models=50)
    with CaptureQueriesContext(connection) as large:
        html = client.get(url).content.decode()

    assert len(large) == len(small)
    assert html.count('<li><span class="model-name">') == 202
