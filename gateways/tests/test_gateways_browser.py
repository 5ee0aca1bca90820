"""The Gateways page in Chromium against the app under uvicorn and a real task worker: a
sync from the button to its end with its progress, the history row, the status header;
what the buttons do is said on hover and focus (the `page` fixture also fails a test on
any Content-Security-Policy violation)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from accounts.tests.browser import log_in
from config.tests.uvicorn import BASE_DIR
from fakes.gptload import FakeGPTLoad, GPTLoadFault
from fakes.upstream import Gate
from gateways.models import GPTLoadInstance
from providers.tests.factories import make_model, make_provider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gptload(fake_gptload: FakeGPTLoad, staff: User) -> GPTLoadInstance:
    make_model(make_provider(), model_id="gpt-4o")
    make_model(
        make_provider(name="DeepSeek", base_url="https://api.deepseek.com/v1"),
        model_id="deepseek-chat",
    )
    instance = GPTLoadInstance(url=fake_gptload.url, auth_key=fake_gptload.auth_key)
    instance.save()
    return instance


@pytest.fixture
def task_worker(served_env: dict[str, str]) -> Iterator[None]:
    command = [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay"]
    worker = subprocess.Popen(
        [*command, "--interval", "0.2"], cwd=BASE_DIR, env=served_env, stderr=subprocess.DEVNULL
    )
    yield
    worker.terminate()
    worker.wait(timeout=30)


def test_a_sync_from_the_button_shows_its_progress_then_its_result_and_history(
    gptload: GPTLoadInstance,
    fake_gptload: FakeGPTLoad,
    asgi_server: str,
    task_worker: None,
    page: Page,
) -> None:
    gate = Gate()  # holds the sync at its keys, so the progress is seen mid-way
    fake_gptload.faults.append(GPTLoadFault(path_prefix="/api/keys/add-multiple", hold=gate))
    log_in(page, asgi_server, "charlie", "/gateways/")
    status = page.locator("#gateway-status")
    expect(status).to_contain_text("connected · 0 groups")
    expect(status).to_contain_text("Last sync: never.")
    sync = page.get_by_role("button", name="Sync now")
    expect(sync).to_have_attribute("title", "Make the gateways hold the plan below")
    expect(sync).to_have_accessible_description(
        "Sync now makes GPT-Load hold the plan below (it creates, updates and deletes only "
        "the groups Switchboard made, and adds the providers' keys) and writes uni-api's "
        "api.yaml."
    )

    sync.click()

    run = page.locator("#sync-run")
    expect(run).to_contain_text("Sync running, started by charlie: Keys.", timeout=30_000)
    expect(run.locator("progress")).to_have_attribute("value", "2")
    gate.open()
    expect(run).to_contain_text("Sync succeeded", timeout=30_000)
    expect(run).to_contain_text("create standard deepseek")
    history = page.locator("#sync-history tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("charlie")
    expect(history.first).to_contain_text("succeeded")
    page.reload()
    expect(status).to_contain_text("connected · 2 groups")
    expect(status).to_contain_text("succeeded")


def test_the_buttons_are_reachable_by_keyboard_with_their_description(
    gptload: GPTLoadInstance, asgi_server: str, page: Page
) -> None:
    log_in(page, asgi_server, "charlie", "/gateways/")
    dry_run = page.get_by_role("button", name="Dry run")

    dry_run.focus()

    expect(dry_run).to_be_focused()
    expect(dry_run).to_have_accessible_description(
        "Dry run reads the gateways and lists what a sync would change, touching nothing."
    )
