"""Verify and Fetch models from the admin: buttons, bulk actions, the discovery page."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from fakes.upstream import FakeUpstream, Fault
from providers.models import Provider
from providers.runners.base import ConfigurationError
from providers.tests.factories import OPENAI_KEY, break_base_url, make_fake_provider, make_model
from providers.tests.html_forms import form_fields

pytestmark = pytest.mark.django_db

LIST_ONLY = r"\(model list only: enable a model to check a real answer\)"


def page_text(response) -> str:
    return response.content.decode()


def breadcrumbs(html: str) -> list[str]:
    trail = html[html.index('<div class="breadcrumbs">') :]
    trail = re.sub(r"<[^>]+>", "", trail[: trail.index("</div>")])
    return [part.strip() for part in trail.split("›")]


def test_the_change_page_has_verify_and_fetch_buttons(
    staff_client: Client, fake_upstream: FakeUpstream
) -> None:
    provider = make_fake_provider(fake_upstream)

    html = page_text(
        staff_client.get(reverse("admin:providers_provider_change", args=[provider.pk]))
    )

    assert reverse("admin:providers_provider_verify", args=[provider.pk]) in html
    assert '<button type="submit">Verify</button>' in html
    assert '<button type="submit">Fetch models</button>' in html


def test_verify_shows_the_result_on_the_change_page(
    staff_client: Client, fake_upstream: FakeUpstream
) -> None:
    provider = make_fake_provider(fake_upstream)
    make_model(provider, model_id="gpt-4o")

    response = staff_client.post(
        reverse("admin:providers_provider_verify", args=[provider.pk]), follow=True
    )

    assert response.redirect_chain[-1][0] == reverse(
        "admin:providers_provider_change", args=[provider.pk]
    )
    verified = r"Fake OpenAI: OK in \d+ ms \(a one-token answer from gpt-4o\)"
    assert re.search(verified, page_text(response))
    assert Provider.objects.get(pk=provider.pk).last_verification_ok


def test_verifying_a_provider_that_is_off_says_how_to_switch_it_on_and_leaves_it_off(
    staff_client: Client, fake_upstream: FakeUpstream
) -> None:
    ollama = make_fake_provider(
        fake_upstream, name="Ollama", preset="ollama", api_key="", enabled=False
    )
    on = make_fake_provider(fake_upstream, name="Team")

    response = staff_client.post(
        reverse("admin:providers_provider_changelist"),
        {"action": "verify_selected", "_selected_action": [ollama.pk, on.pk]},
        follow=True,
    )

    html = page_text(response)
    assert re.search(
        rf"Ollama: OK in \d+ ms {LIST_ONLY}\. It is still switched off: tick “Enabled” on "
        r"its page and save, so people can use its models\.",
        html,
    )
    assert re.search(rf"Team: OK in \d+ ms {LIST_ONLY}</li>", html)
    assert not Provider.objects.get(pk=ollama.pk).enabled
    assert Provider.objects.get(pk=ollama.pk).last_verification_ok


def test_opening_verify_shows_what_it_checks_and_calls_nothing(
    staff_client: Client, fake_upstream: FakeUpstream
) -> None:
    provider = make_fake_provider(fake_upstream)
    url = reverse("admin:providers_provider_verify", args=[provider.pk])

    html = page_text(staff_client.get(url))

    assert "it asks for the model list only" in html
    assert "enable a model to check a real answer" in html
    assert breadcrumbs(html) == ["Home", "Providers", "Fake OpenAI", "Verify"]
    assert set(form_fields(html, "verify")) == {"csrfmiddlewaretoken"}  # posts to itself
    make_model(provider, model_id="gpt-4o")
    assert "a one-token answer from <code>gpt-4o</code>" in page_text(staff_client.get(url))
    assert fake_upstream.requests == []


def test_a_providers_models_page_enables_switched_off_models_at_any_time(
    staff_client: Client, fake_upstream: FakeUpstream
) -> None:
    provider = make_fake_provider(fake_upstream)
    off = make_model(provider, model_id="gpt-4o-mini", enabled=False)
    make_model(provider, model_id="gpt-4o")
    change = page_text(
        staff_client.get(reverse("admin:providers_provider_change", args=[provider.pk]))
    )
    url = reverse("admin:providers_provider_fetch_models", args=[provider.pk])
    assert f'<a href="{url}">Enable models</a>' in change

    html = page_text(staff_client.get(url))

    assert "It checks the list only, no answer" in html
    assert breadcrumbs(html) == ["Home", "Providers", "Fake OpenAI", "Models"]
    assert "<code>gpt-4o-mini</code>" in html
    assert "<code>gpt-4o</code>" not in html  # enabled already
    response = staff_client.post(
        reverse("admin:providers_provider_enable_models"),
        {"model": off.pk, "provider": provider.pk},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == url
    assert "Enabled 1 model." in page_text(response)
    assert "Every model here is enabled." in page_text(response)
    assert fake_upstream.requests == []


def test_bulk_verify_shows_each_result_and_never_the_key(
    staff_client: Client, fake_upstream: FakeUpstream
) -> None:
    good = make_fake_provider(fake_upstream, name="Good")
    bad = make_fake_provider(fake_upstream, name="Bad")
    fake_upstream.api_key = OPENAI_KEY
    Provider.objects.filter(pk=bad.pk).update(api_key="sk-proj-FAKE.wrong.key.0000")
    url = reverse("admin:providers_provider_changelist")

    response = staff_client.post(
        url,
        {"action": "verify_selected", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )

    html = page_text(response)
    assert re.search(rf"Good: OK in \d+ ms {LIST_ONLY}", html)
    assert "Bad: bad key: The provider rejected the API key." in html
    assert '<td class="field-status">bad key</td>' in html
    assert OPENAI_KEY not in html
    assert "sk-proj-FAKE.wrong.key.0000" not in html


def test_fetch_models_shows_new_models_and_enables_them_in_one_click(
    staff_client: Client, fake_upstream: FakeUpstream
) -> None:
    provider = make_fake_provider(fake_upstream)
    make_model(provider, model_id="retired-model")

    response = staff_client.post(
        reverse("admin:providers_provider_fetch_models", args=[provider.pk])
    )

    html = page_text(response)
    assert "2 new, 1 missing, 0 unchanged" in html
    assert "<mark>gpt-4o</mark>" in html
    assert "No longer listed" in html
    assert breadcrumbs(html) == ["Home", "Providers", "Fake OpenAI", "Fetched models"]
    assert "no model was asked for an answer" in html
    assert not provider.models.filter(model_id="gpt-4o").get().enabled

    data = form_fields(html, "enable-models")
    assert len(data["model"]) == 2  # the new ones, ticked
    staff_client.post(reverse("admin:providers_provider_enable_models"), data)

    assert provider.models.filter(enabled=True).count() == 3


def test_a_failed_fetch_is_shown_and_changes_nothing(
    staff_client: Client, fake_upstream: FakeUpstream
) -> None:
    provider = make_fake_provider(fake_upstream)
    fake_upstream.faults.append(Fault(body=b"<html>Bad gateway</html>"))

    response = staff_client.post(
        reverse("admin:providers_provider_fetch_models", args=[provider.pk])
    )

    assert "not in the expected format" in page_text(response)
    assert not provider.models.exists()


def test_bulk_fetch_lists_each_provider(staff_client: Client, fake_upstream: FakeUpstream) -> None:
    first = make_fake_provider(fake_upstream, name="First")
    second = make_fake_provider(fake_upstream, name="Second")

    response = staff_client.post(
        reverse("admin:providers_provider_changelist"),
        {"action": "fetch_models_selected", "_selected_action": [first.pk, second.pk]},
    )

    html = page_text(response)
    assert html.count("2 new, 0 missing, 0 unchanged") == 2
    assert len(form_fields(html, "enable-models")["model"]) == 4


def test_the_model_list_filters_models_no_longer_listed(
    staff_client: Client, fake_upstream: FakeUpstream
) -> None:
    provider = make_fake_provider(fake_upstream)
    make_model(provider, model_id="gone-model")
    staff_client.post(reverse("admin:providers_provider_fetch_models", args=[provider.pk]))

    response = staff_client.get(reverse("admin:providers_llmmodel_changelist"), {"listed": "no"})

    assert [m.model_id for m in response.context["cl"].result_list] == ["gone-model"]


def test_enabling_models_needs_the_change_permission(
    client: Client, fake_upstream: FakeUpstream, django_user_model
) -> None:
    model = make_model(make_fake_provider(fake_upstream), model_id="gpt-4o", enabled=False)
    viewer = django_user_model.objects.create_user("viewer", password="viewer-password-1")
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)

    response = client.post(reverse("admin:providers_provider_enable_models"), {"model": model.pk})

    assert response.status_code == 403
    model.refresh_from_db()
    assert not model.enabled


def test_bulk_actions_name_a_base_url_they_cannot_use_and_do_the_rest(
    staff_client: Client, fake_upstream: FakeUpstream
) -> None:
    good = make_fake_provider(fake_upstream, name="Good")
    broken = make_fake_provider(fake_upstream, name="Broken")
    break_base_url(broken)
    url = reverse("admin:providers_provider_changelist")
    selected = [broken.pk, good.pk]

    verified = page_text(
        staff_client.post(
            url, {"action": "verify_selected", "_selected_action": selected}, follow=True
        )
    )
    fetched = page_text(
        staff_client.post(url, {"action": "fetch_models_selected", "_selected_action": selected})
    )

    problem = escape(
        f"{ConfigurationError.user_message} Its base URL does not parse: Invalid port: ':1'."
    )
    assert f"Broken: bad configuration: {problem}" in verified
    assert re.search(rf"Good: OK in \d+ ms {LIST_ONLY}", verified)
    assert '<td class="field-status">bad configuration</td>' in verified
    assert problem in fetched
    assert "2 new, 0 missing, 0 unchanged" in fetched
    assert (broken.models.count(), good.models.count()) == (0, 2)
