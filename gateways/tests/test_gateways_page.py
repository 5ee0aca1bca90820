"""The Gateways page: GPT-Load's status in words, Sync queued for a worker and its
progress, the history, one sync at a time; and the stats monitoring reads."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from config.tests.uvicorn import BASE_DIR, free_port
from fakes.gptload import FakeGPTLoad, GPTLoadFault
from gateways import runs
from gateways.models import GPTLoadInstance, SyncRun, SyncStatus, UniApiTarget
from providers.tests.factories import OPENAI_KEY, make_model, make_provider
from providers.tests.leaks import assert_keyless

pytestmark = pytest.mark.django_db


@pytest.fixture
def gptload(fake_gptload: FakeGPTLoad) -> GPTLoadInstance:
    make_model(make_provider(), model_id="gpt-4o")
    instance = GPTLoadInstance(url=fake_gptload.url, auth_key=fake_gptload.auth_key)
    instance.save()
    return instance


def work_the_queue(env: dict[str, str]) -> None:
    """A real worker process drains the queue, as `make run`'s or Docker's does."""
    command = [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"]
    subprocess.run([*command, "--no-reload"], cwd=BASE_DIR, env=env, check=True, timeout=120)


def test_the_page_is_staff_business(client: Client, user) -> None:
    client.force_login(user)

    assert client.get(reverse("gateways:gateways")).status_code == 404
    assert client.post(reverse("gateways:sync")).status_code == 404


def test_the_header_says_connected_with_the_group_count(
    staff_client: Client, gptload: GPTLoadInstance, fake_gptload: FakeGPTLoad
) -> None:
    fake_gptload.add_group(name="theirs", test_model="x")

    page = staff_client.get(reverse("gateways:gateways")).content.decode()
    assert "checking…" in page
    assert 'hx-trigger="load, every 30s"' in page
    assert not fake_gptload.calls, "the page itself waits for no GPT-Load"

    html = staff_client.get(reverse("gateways:status")).content.decode()

    assert '<span class="connection connected">connected</span> · 1 group' in html
    assert_keyless(html, fake_gptload.auth_key, shows=fake_gptload.url)
    assert "Last sync: never." in html


def test_the_header_says_disconnected_and_why(staff_client: Client) -> None:
    GPTLoadInstance(url=f"http://127.0.0.1:{free_port()}", auth_key="k" * 20).save()

    html = staff_client.get(reverse("gateways:status")).content.decode()

    assert '<span class="connection disconnected">disconnected</span>' in html
    assert "cannot be reached" in html


def test_the_header_says_where_to_configure_a_missing_gptload(staff_client: Client) -> None:
    html = staff_client.get(reverse("gateways:gateways")).content.decode()

    assert "not configured" in html
    assert reverse("admin:gateways_gptloadinstance_add") in html


def test_with_no_gateway_sync_is_off_and_says_what_to_add(staff_client: Client, tmp_path) -> None:
    nothing = staff_client.get(reverse("gateways:gateways")).content.decode()
    UniApiTarget.objects.create(path=str(tmp_path / "api.yaml"))
    uniapi_only = staff_client.get(reverse("gateways:gateways")).content.decode()

    assert nothing.count(" disabled>Sync now<") + nothing.count(" disabled>Dry run<") == 2
    assert "Nothing to sync to yet: add GPT-Load or a uni-api target" in nothing
    assert reverse("admin:app_list", args=["gateways"]) in nothing
    assert " disabled>" not in uniapi_only.split('id="sync-title"')[1].split("</form>")[0]
    assert "Nothing to sync to yet" not in uniapi_only


def test_sync_is_queued_a_worker_runs_it_and_the_page_shows_it_ended(
    served_env: dict[str, str],
    staff_client: Client,
    staff,
    gptload: GPTLoadInstance,
    fake_gptload: FakeGPTLoad,
) -> None:
    queued = staff_client.post(reverse("gateways:sync"), {"dry_run": "0"}, HTTP_HX_REQUEST="true")

    run = SyncRun.objects.get()
    assert (run.status, run.started_by, run.dry_run) == (SyncStatus.RUNNING, staff, False)
    assert "waiting for a worker" in queued.content.decode()
    assert 'hx-trigger="every 1s"' in queued.content.decode()
    assert fake_gptload.writes() == []  # nothing until a worker takes it
    work_the_queue(served_env)

    progress = staff_client.get(reverse("gateways:run", args=[run.pk])).content.decode()
    assert "Sync succeeded" in progress
    assert "every 1s" not in progress  # the polling stops
    assert 'id="sync-history" class="card sync-history" hx-swap-oob="true"' in progress
    assert '<span class="action">create</span> standard <code>openai</code>' in progress
    assert [group["name"] for group in fake_gptload.groups.values()] == ["openai"]
    assert_keyless(progress, OPENAI_KEY)


def test_a_second_sync_is_refused_naming_the_running_one(
    staff_client: Client, staff, gptload: GPTLoadInstance
) -> None:
    runs.begin(target="gptload", dry_run=False, user=staff)

    page = staff_client.post(reverse("gateways:sync"), {"dry_run": "1"}, follow=True)

    assert f"A sync is already running: started by {staff.username}" in page.content.decode()
    assert SyncRun.objects.count() == 1


def test_a_dry_run_from_the_page_lists_changes_and_writes_nothing(
    served_env: dict[str, str],
    staff_client: Client,
    gptload: GPTLoadInstance,
    fake_gptload: FakeGPTLoad,
) -> None:
    staff_client.post(reverse("gateways:sync"), {"dry_run": "1"})
    work_the_queue(served_env)

    html = staff_client.get(reverse("gateways:gateways")).content.decode()
    assert "Dry run succeeded" in html
    assert "it would make" in html
    assert fake_gptload.writes() == []


def test_stats_for_staff_and_for_the_monitoring_token_only(
    client: Client, staff_client: Client, gptload: GPTLoadInstance, settings, user
) -> None:
    settings.MONITORING_TOKEN = "monitor-FAKE.dG9rZW4.test"
    url = reverse("gateways:stats")
    call_command("sync_gateways")

    as_staff = staff_client.get(url).json()
    as_monitor = Client().get(url, HTTP_AUTHORIZATION=f"Bearer {settings.MONITORING_TOKEN}")

    assert as_staff["groups"] == 1
    assert as_staff["last_sync"]["status"] == "succeeded"
    assert as_monitor.status_code == 200
    assert as_monitor.json()["providers"] == 1
    assert Client().get(url).status_code == 302  # to log in, as every page
    assert Client().get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 302
    client.force_login(user)
    assert client.get(url).status_code == 404


def test_the_api_yaml_preview_masks_keys_and_the_download_is_recorded(
    staff_client: Client, gptload: GPTLoadInstance, tmp_path, client: Client, user
) -> None:
    target = UniApiTarget(path=str(tmp_path / "api.yaml"))
    target.save()

    page = staff_client.get(reverse("gateways:gateways")).content.decode()
    download = staff_client.post(reverse("gateways:download_api_yaml"))

    assert "Preview of api.yaml" in page
    assert_keyless(page, gptload.proxy_key.reveal(), shows="/proxy/openai/v1/chat/completions")
    assert_keyless(page, target.admin_key.reveal())
    assert download["Content-Disposition"] == 'attachment; filename="api.yaml"'
    assert target.admin_key.reveal() in download.content.decode()
    recorded = SyncRun.objects.get()
    assert recorded.changes[0]["action"] == "download"
    assert recorded.started_by_name == "charlie"
    client.force_login(user)
    assert client.post(reverse("gateways:download_api_yaml")).status_code == 404


def test_a_failed_run_offers_retry_and_the_history_sums_up_each_gateway(
    served_env: dict[str, str],
    staff_client: Client,
    gptload: GPTLoadInstance,
    fake_gptload: FakeGPTLoad,
) -> None:
    fake_gptload.faults.append(GPTLoadFault(status=500, path_prefix="/api/keys/add-multiple"))
    staff_client.post(reverse("gateways:sync"), {"dry_run": "0"})
    work_the_queue(served_env)
    failed = SyncRun.objects.get()

    page = staff_client.get(reverse("gateways:run", args=[failed.pk])).content.decode()

    assert "Sync failed" in page
    assert ">Retry</button>" in page
    assert "GPT-Load: 1 created" in page  # the history, out of band
    staff_client.post(reverse("gateways:sync"), {"dry_run": "0"})
    work_the_queue(served_env)
    assert SyncRun.objects.first().status == SyncStatus.SUCCEEDED
