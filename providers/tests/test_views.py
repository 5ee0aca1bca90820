from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from providers.tests.factories import OPENAI_KEY, make_model, make_provider

pytestmark = pytest.mark.django_db


def test_the_models_page_lists_enabled_models_by_provider_with_status(
    client: Client, user: User
) -> None:
    openai = make_provider()
    make_model(openai, model_id="gpt-4o", display_name="GPT-4o", is_default=True)
    make_model(openai, model_id="gpt-3.5-turbo", enabled=False)
    make_provider(
        name="Groq", preset="groq", base_url="https://api.groq.com/openai/v1", enabled=False
    )
    client.force_login(user)

    response = client.get(reverse("models"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "GPT-4o" in html
    assert "gpt-3.5-turbo" not in html
    assert '<span class="badge ok">Ready</span>' in html
    assert '<span class="badge off">Disabled</span>' in html
    assert OPENAI_KEY[:5] not in html  # not even the masked key is shown here
    assert "Manage providers" not in html


def test_staff_get_a_link_to_the_admin(staff_client: Client) -> None:
    response = staff_client.get(reverse("models"))

    assert "No providers yet" in response.content.decode()
    assert reverse("admin:providers_provider_add") in response.content.decode()
