"""Sync runs as the database keeps them: the lock that lets one run at a time, across
processes and machines, its heartbeat and progress, and its end in the history.

The lock is the running row itself: a unique index on status, partial to "running",
lets one exist (SQLite and PostgreSQL alike), so two processes starting at once are
decided by the database, not by a check before the insert. A run beats at every step and
every write; one that has not beaten for LOCK_TTL lost its worker (killed, its machine
gone) and is marked failed by the next start, which then takes the lock.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import formats, timezone

from gateways.models import SyncRun, SyncStatus
from providers.errors import UserFacingError

LOCK_TTL = timedelta(minutes=5)  # far past one call's 30 s timeout


class SyncBusyError(UserFacingError):
    """Another sync is running."""


class SyncAbandonedError(UserFacingError):
    """This run was given up as dead (it went silent past LOCK_TTL) while it still ran."""


def begin(*, target: str, dry_run: bool, user: AbstractBaseUser | None) -> SyncRun:
    """A new running row, the lock taken; SyncBusyError naming who holds it."""
    now = timezone.now()
    SyncRun.objects.filter(status=SyncStatus.RUNNING, heartbeat_at__lt=now - LOCK_TTL).update(
        status=SyncStatus.FAILED,
        finished_at=now,
        error="Abandoned: its worker stopped (no sign of life for "
        f"{int(LOCK_TTL.total_seconds() // 60)} minutes).",
    )
    try:
        with transaction.atomic():
            return SyncRun.objects.create(
                target=target,
                dry_run=dry_run,
                started_by=user,
                started_by_name=user.get_username() if user else "",
                status=SyncStatus.RUNNING,
            )
    except IntegrityError:
        running = SyncRun.objects.filter(status=SyncStatus.RUNNING).first()
        raise SyncBusyError(busy_message(running)) from None


def busy_message(running: SyncRun | None) -> str:
    if running is None:  # it ended between the insert and this read
        return "Another sync was running; try again."
    who = running.started_by_name or "a command or a schedule"
    when = formats.date_format(timezone.localtime(running.started_at), "DATETIME_FORMAT")
    return f"A sync is already running: started by {who} at {when}. Wait for it to end."


def beat(run: SyncRun, *, step: str, steps_done: int, steps_total: int, changes: list) -> None:
    """Progress, and a sign of life; SyncAbandonedError if the run was given up."""
    beaten = SyncRun.objects.filter(pk=run.pk, status=SyncStatus.RUNNING).update(
        step=step,
        steps_done=steps_done,
        steps_total=steps_total,
        changes=changes,
        heartbeat_at=timezone.now(),
    )
    if not beaten:
        raise SyncAbandonedError(
            "This sync was marked abandoned while it ran (it went silent too long); it "
            "stopped. Run it again."
        )


def end(run: SyncRun, *, changes: list, error: str = "") -> SyncRun:
    """The run's result, kept in the history; the lock released."""
    conflicted = any(change["action"] in ("conflict", "kept") for change in changes)
    if error:
        status = SyncStatus.FAILED
    else:
        status = SyncStatus.CONFLICTS if conflicted else SyncStatus.SUCCEEDED
    SyncRun.objects.filter(pk=run.pk, status=SyncStatus.RUNNING).update(
        status=status,
        changes=changes,
        error=error,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    run.refresh_from_db()
    return run
