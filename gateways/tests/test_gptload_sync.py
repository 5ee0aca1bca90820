"""The GPT-Load sync against the fake GPT-Load: what it makes, what a second sync does
(nothing, when nothing changed), and what it refuses to touch."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from config.tests.uvicorn import BASE_DIR
from fakes.gptload import FakeGPTLoad, GPTLoadFault, serving
from fakes.upstream import Gate
from gateways import runs, sync
from gateways.gptload_sync import MARK
from gateways.models import GPTLoadInstance, SyncRun, SyncStatus, TrackedGroup
from providers.models import LLMModel
from providers.tests.factories import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    OPENROUTER_KEY,
    make_model,
    make_provider,
)
from providers.tests.leaks import assert_keyless

pytestmark = pytest.mark.django_db

TOGETHER_KEY = "tgp-FAKE.dG9nZXRoZXI.test.3131"


@pytest.fixture
def gptload(fake_gptload: FakeGPTLoad) -> GPTLoadInstance:
    instance = GPTLoadInstance(url=fake_gptload.url, auth_key=fake_gptload.auth_key)
    instance.full_clean()
    instance.save()
    return GPTLoadInstance.objects.get()


def synced(*, dry_run: bool = False) -> SyncRun:
    return sync.perform(runs.begin(target="gptload", dry_run=dry_run, user=None))


def named(fake: FakeGPTLoad) -> dict[str, dict]:
    return {group["name"]: group for group in fake.groups.values()}


def test_a_first_sync_makes_the_plan_s_groups_keys_and_aggregates(
    fake_gptload: FakeGPTLoad, gptload: GPTLoadInstance, catalogue: None
) -> None:
    run = synced()

    assert (run.status, run.error) == (SyncStatus.SUCCEEDED, "")
    groups = named(fake_gptload)
    assert set(groups) == {
        "openai",
        "openrouter",
        "anthropic",
        "openai-1-gpt-4o",
        "openrouter-2-gpt-4o",
        "gpt-4o",
    }
    openrouter = groups["openrouter"]
    assert openrouter["upstreams"] == [{"url": "https://openrouter.ai/api", "weight": 1}]
    assert openrouter["model_redirect_rules"] == {"deepseek-chat": "deepseek/deepseek-chat"}
    assert openrouter["model_redirect_strict"] is True
    assert openrouter["test_model"] == "deepseek/deepseek-chat"
    assert openrouter["description"] == MARK
    assert openrouter["proxy_keys"] == gptload.proxy_key.reveal()
    assert groups["anthropic"]["channel_type"] == "anthropic"
    assert fake_gptload.keys[openrouter["id"]] == [OPENROUTER_KEY]
    assert fake_gptload.keys[groups["openai-1-gpt-4o"]["id"]] == [OPENAI_KEY]
    assert fake_gptload.keys[groups["anthropic"]["id"]] == [ANTHROPIC_KEY]
    aggregate = groups["gpt-4o"]
    assert aggregate["group_type"] == "aggregate"
    assert fake_gptload.members[aggregate["id"]] == {
        groups["openai-1-gpt-4o"]["id"]: 1,
        groups["openrouter-2-gpt-4o"]["id"]: 1,
    }
    assert groups["openai-1-gpt-4o"]["model_redirect_rules"] == {"gpt-4o": "gpt-4o"}
    assert groups["openrouter-2-gpt-4o"]["model_redirect_rules"] == {"gpt-4o": "openai/gpt-4o"}
    tracked = {row.name: row.remote_id for row in TrackedGroup.objects.all()}
    assert tracked == {name: group["id"] for name, group in groups.items()}
    actions = [(c["action"], c["name"]) for c in run.changes]
    assert actions.index(("create", "gpt-4o")) > actions.index(("create", "openai-1-gpt-4o"))
    assert ("add members", "gpt-4o") in actions
    assert run.steps_done == run.steps_total - 1  # the last step's beat; then it ended


def test_a_second_sync_of_the_same_catalogue_writes_nothing(
    fake_gptload: FakeGPTLoad, gptload: GPTLoadInstance, catalogue: None
) -> None:
    synced()
    writes = len(fake_gptload.writes())

    run = synced()

    assert (run.status, run.changes) == (SyncStatus.SUCCEEDED, [])
    assert len(fake_gptload.writes()) == writes


def test_a_renamed_gateway_name_updates_the_group_in_place(
    fake_gptload: FakeGPTLoad, gptload: GPTLoadInstance, catalogue: None
) -> None:
    synced()
    before = named(fake_gptload)["openai"]["id"]
    LLMModel.objects.filter(model_id="gpt-4.1-mini").update(gateway_name="mini")

    run = synced()

    group = named(fake_gptload)["openai"]
    assert group["id"] == before
    assert group["model_redirect_rules"] == {"mini": "gpt-4.1-mini"}
    assert [(c["action"], c["name"], c["detail"]) for c in run.changes] == [
        ("update", "openai", "model_redirect_rules")
    ]
    assert [(c.method, c.path) for c in fake_gptload.writes()][-1] == (
        "PUT",
        f"/api/groups/{before}",
    )


def test_a_provider_leaving_a_shared_name_leaves_the_aggregate_before_its_group_goes(
    fake_gptload: FakeGPTLoad, gptload: GPTLoadInstance, catalogue: None
) -> None:
    together = make_provider(
        name="Together",
        preset="custom",
        base_url="https://api.together.xyz/v1",
        api_key=TOGETHER_KEY,
    )
    make_model(together, model_id="openai/gpt-4o", gateway_name="gpt-4o")
    synced()
    groups = named(fake_gptload)
    aggregate, leaving = groups["gpt-4o"]["id"], groups["together-3-gpt-4o"]["id"]
    assert len(fake_gptload.members[aggregate]) == 3
    calls = len(fake_gptload.calls)
    LLMModel.objects.filter(provider=together).update(enabled=False)

    run = synced()

    assert run.status == SyncStatus.SUCCEEDED
    assert "together-3-gpt-4o" not in named(fake_gptload)
    assert set(fake_gptload.members[aggregate]) == {
        groups["openai-1-gpt-4o"]["id"],
        groups["openrouter-2-gpt-4o"]["id"],
    }
    writes = [(c.method, c.path) for c in fake_gptload.calls[calls:] if c.writes]
    assert writes == [
        ("DELETE", f"/api/groups/{aggregate}/sub-groups/{leaving}"),
        ("DELETE", f"/api/groups/{leaving}"),
    ]
    assert not TrackedGroup.objects.filter(name="together-3-gpt-4o").exists()


def test_a_name_no_longer_shared_removes_its_aggregate_and_goes_back_to_the_main_group(
    fake_gptload: FakeGPTLoad, gptload: GPTLoadInstance, catalogue: None
) -> None:
    synced()
    LLMModel.objects.filter(model_id="openai/gpt-4o").update(deleted_at=timezone.now())

    run = synced()

    assert run.status == SyncStatus.SUCCEEDED
    groups = named(fake_gptload)
    assert set(groups) == {"openai", "openrouter", "anthropic"}
    assert groups["openai"]["model_redirect_rules"] == {"fast": "gpt-4.1-mini", "gpt-4o": "gpt-4o"}
    deleted = [c["name"] for c in run.changes if c["action"] == "delete"]
    assert deleted == ["gpt-4o", "openai-1-gpt-4o", "openrouter-2-gpt-4o"]  # aggregate first


def test_a_foreign_group_with_a_planned_name_is_reported_and_left_alone(
    fake_gptload: FakeGPTLoad, gptload: GPTLoadInstance, catalogue: None
) -> None:
    theirs = fake_gptload.add_group(
        name="openrouter",
        channel_type="openai",
        test_model="x",
        upstreams=[{"url": "https://example.com", "weight": 1}],
        description="our team's own",
    )
    snapshot = dict(theirs)

    run = synced()

    assert run.status == SyncStatus.CONFLICTS
    assert fake_gptload.groups[theirs["id"]] == snapshot
    assert fake_gptload.keys[theirs["id"]] == []
    (conflict,) = [c for c in run.changes if c["action"] == "conflict"]
    assert conflict["name"] == "openrouter"
    assert "Switchboard did not make" in conflict["detail"]
    assert "anthropic" in named(fake_gptload)  # the rest went ahead
    assert not TrackedGroup.objects.filter(name="openrouter").exists()
    assert all(c.path != f"/api/groups/{theirs['id']}" for c in fake_gptload.writes())


def test_a_failed_step_stops_with_what_was_done_and_retry_finishes_without_duplicates(
    fake_gptload: FakeGPTLoad, gptload: GPTLoadInstance, catalogue: None
) -> None:
    fake_gptload.faults.append(
        GPTLoadFault(status=500, message="disk full", path_prefix="/api/keys/add-multiple")
    )

    failed = synced()

    assert failed.status == SyncStatus.FAILED
    assert "could not add keys to group" in failed.error
    assert "disk full" in failed.error
    assert [c["action"] for c in failed.changes].count("create") == 5  # the standard groups
    retried = synced()

    assert retried.status == SyncStatus.SUCCEEDED
    assert len(fake_gptload.groups) == 6
    for group in named(fake_gptload).values():
        if group["group_type"] == "standard":
            assert len(fake_gptload.keys[group["id"]]) == 1, group["name"]
    created = [(c["action"], c["name"]) for c in retried.changes if c["action"] == "create"]
    assert created == [("create", "gpt-4o")]  # the aggregate the failed run did not reach


def test_groups_made_by_a_run_that_died_before_tracking_them_are_taken_over(
    fake_gptload: FakeGPTLoad, gptload: GPTLoadInstance, catalogue: None
) -> None:
    synced()
    TrackedGroup.objects.all().delete()
    ids = {name: group["id"] for name, group in named(fake_gptload).items()}

    run = synced()

    assert run.status == SyncStatus.SUCCEEDED
    assert {name: group["id"] for name, group in named(fake_gptload).items()} == ids
    assert not any(c["action"] in ("create", "conflict") for c in run.changes)
    assert TrackedGroup.objects.count() == 6


def test_a_dry_run_lists_the_changes_and_writes_nothing(
    fake_gptload: FakeGPTLoad, gptload: GPTLoadInstance, catalogue: None
) -> None:
    run = synced(dry_run=True)

    assert run.status == SyncStatus.SUCCEEDED
    assert fake_gptload.writes() == []
    assert TrackedGroup.objects.count() == 0
    actions = [(c["action"], c["name"]) for c in run.changes]
    assert ("create", "gpt-4o") in actions
    assert ("keys", "openrouter") in actions
    assert ("add members", "gpt-4o") in actions


def test_a_v2_server_is_refused_and_nothing_is_written(
    gptload: GPTLoadInstance, catalogue: None
) -> None:
    with serving(FakeGPTLoad(version="v2")) as v2:
        GPTLoadInstance.objects.update(url=v2.url)

        run = synced()

    assert run.status == SyncStatus.FAILED
    assert "GPT-Load v2" in run.error
    assert TrackedGroup.objects.count() == 0


def test_no_gptload_configured_is_a_failed_run_that_says_where_to_add_it(catalogue: None) -> None:
    run = synced()

    assert run.status == SyncStatus.FAILED
    assert "No GPT-Load is configured" in run.error


def test_a_second_sync_is_refused_while_one_runs_naming_who_started_it(
    django_user_model: type, catalogue: None
) -> None:
    alice = django_user_model.objects.create_user("alice")
    runs.begin(target="gptload", dry_run=False, user=alice)

    with pytest.raises(runs.SyncBusyError, match="started by alice"):
        runs.begin(target="gptload", dry_run=True, user=None)
    with pytest.raises(CommandError, match="already running"):
        call_command("sync_gateways")


def test_a_lock_left_by_a_dead_worker_expires(catalogue: None) -> None:
    dead = runs.begin(target="gptload", dry_run=False, user=None)
    SyncRun.objects.filter(pk=dead.pk).update(
        heartbeat_at=timezone.now() - runs.LOCK_TTL - timedelta(seconds=1)
    )

    fresh = runs.begin(target="gptload", dry_run=False, user=None)

    dead.refresh_from_db()
    assert dead.status == SyncStatus.FAILED
    assert "Abandoned" in dead.error
    assert fresh.status == SyncStatus.RUNNING
    with pytest.raises(runs.SyncAbandonedError):  # the dead one, should it wake, stops
        runs.beat(dead, step="Keys", steps_done=2, steps_total=6, changes=[])


def test_no_key_reaches_a_record_a_log_line_or_the_command_s_output(
    fake_gptload: FakeGPTLoad,
    gptload: GPTLoadInstance,
    catalogue: None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture,
) -> None:
    fake_gptload.faults.append(
        GPTLoadFault(
            status=400,
            code="VALIDATION_FAILED",
            message=f"bad key {OPENROUTER_KEY} for {fake_gptload.auth_key}",
            path_prefix="/api/keys/add-multiple",
        )
    )
    caplog.set_level(logging.DEBUG)

    with pytest.raises(CommandError) as failed:
        call_command("sync_gateways")
    call_command("sync_gateways")

    out = capsys.readouterr().out
    records = json.dumps(list(SyncRun.objects.values("changes", "error", "step")), default=str)
    tracked = json.dumps(list(TrackedGroup.objects.values()), default=str)
    for text in (out, records, tracked, caplog.text, str(failed.value)):
        for key in (
            OPENAI_KEY,
            OPENROUTER_KEY,
            ANTHROPIC_KEY,
            fake_gptload.auth_key,
            gptload.proxy_key.reveal(),
        ):
            assert_keyless(text, key)
    assert "bad key" in str(failed.value)


def test_two_processes_syncing_at_once_one_runs_the_other_is_refused(
    served_env: dict[str, str], fake_gptload: FakeGPTLoad, gptload: GPTLoadInstance, catalogue: None
) -> None:
    gate = Gate()
    fake_gptload.faults.append(GPTLoadFault(path_prefix="/api/groups", hold=gate))
    command = [sys.executable, "manage.py", "sync_gateways"]
    first = subprocess.Popen(
        command, cwd=BASE_DIR, env=served_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        gate.wait_held(timeout=60)  # the first holds the lock, mid-sync
        second = subprocess.run(
            command, cwd=BASE_DIR, env=served_env, capture_output=True, text=True, timeout=60
        )
        gate.open()
        out, _ = first.communicate(timeout=60)
    finally:
        gate.open()
        if first.poll() is None:
            first.kill()

    assert second.returncode == 1
    assert "A sync is already running: started by a command or a schedule" in second.stderr
    assert first.returncode == 0, out
    assert SyncRun.objects.get().status == SyncStatus.SUCCEEDED
    assert len(fake_gptload.groups) == 6
