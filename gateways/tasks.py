"""The gateway sync as a background task, on the database queue (settings.TASKS): a
page's Sync returns at once and any worker (`manage.py db_worker`) runs it."""

from __future__ import annotations

from django_tasks import task

from gateways import sync
from gateways.models import SyncRun, SyncStatus


@task()
def sync_gateways(run_id: int) -> str:
    """Run the sync `run_id` (begun, its lock taken, by whoever queued it) to its end."""
    run = SyncRun.objects.filter(pk=run_id, status=SyncStatus.RUNNING).first()
    if run is None:  # given up as abandoned while it waited in the queue
        return "skipped"
    return sync.perform(run).status
