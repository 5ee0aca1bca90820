"""The gateways in the admin: the GPT-Load instance's keys never shown, one instance only,
and the sync history read-only."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from gateways import runs, sync
from gateways.models import GPTLoadInstance
from providers.tests.leaks import assert_keyless

pytestmark = pytest.mark.django_db

AUTH_KEY = "gptload-FAKE.YXV0aGtleQ.test.8080"


def test_staff_add_the_gptload_and_see_its_keys_only_masked(staff_client: Client) -> None:
    add = reverse("admin:gateways_gptloadinstance_add")
    form = {"url": "http://gpt-load:3001", "auth_key": AUTH_KEY, "allow_private_network": "on"}

    response = staff_client.post(add, form, follow=True)

    instance = GPTLoadInstance.objects.get()
    assert instance.auth_key.reveal() == AUTH_KEY
    assert instance.proxy_key.reveal().startswith("sk-switchboard-")
    change = reverse("admin:gateways_gptloadinstance_change", args=[instance.pk])
    for page in (response, staff_client.get(change)):
        html = page.content.decode()
        assert_keyless(html, AUTH_KEY, shows="http://gpt-load:3001")
        assert_keyless(html, instance.proxy_key.reveal())
    assert staff_client.get(add).status_code == 403  # one GPT-Load per Switchboard


def test_a_blank_auth_key_keeps_the_stored_one(staff_client: Client) -> None:
    instance = GPTLoadInstance(url="http://gpt-load:3001", auth_key=AUTH_KEY)
    instance.save()
    change = reverse("admin:gateways_gptloadinstance_change", args=[instance.pk])

    form = {"url": "http://gpt-load:3002", "auth_key": "", "allow_private_network": "on"}
    staff_client.post(change, form)

    instance.refresh_from_db()
    assert (instance.url, instance.auth_key.reveal()) == ("http://gpt-load:3002", AUTH_KEY)


def test_a_url_that_is_not_http_is_refused_with_the_reason(staff_client: Client) -> None:
    add = reverse("admin:gateways_gptloadinstance_add")

    response = staff_client.post(add, {"url": "ftp://gpt-load", "auth_key": AUTH_KEY})

    assert "Enter an http:// or https:// URL" in response.content.decode()
    assert not GPTLoadInstance.objects.exists()


def test_the_sync_history_lists_runs_with_their_changes(staff_client: Client) -> None:
    run = sync.perform(runs.begin(target="gptload", dry_run=True, user=None))

    listing = staff_client.get(reverse("admin:gateways_syncrun_changelist")).content.decode()
    detail = staff_client.get(reverse("admin:gateways_syncrun_change", args=[run.pk]))

    assert "failed" in listing
    assert "No GPT-Load is configured" in detail.content.decode()
