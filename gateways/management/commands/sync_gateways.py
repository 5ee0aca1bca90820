"""Push the catalogue to the gateways:
`manage.py sync_gateways [--target all|gptload|uniapi] [--dry-run]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gateways import runs, sync
from gateways.models import SyncStatus


class Command(BaseCommand):
    help = "Make the configured gateways hold the catalogue's plan (--dry-run: list the changes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--target",
            choices=sync.TARGETS,
            default="all",
            help="all (the default): GPT-Load when configured, then uni-api's api.yaml",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="read the gateways and list the changes"
        )

    def handle(self, *args: Any, target: str, dry_run: bool, **options: Any) -> None:
        try:
            run = runs.begin(target=target, dry_run=dry_run, user=None)
        except runs.SyncBusyError as error:
            raise CommandError(error.user_message) from None
        run = sync.perform(run)
        verb = "would" if dry_run else "did"
        for change in run.changes:
            detail = f": {change['detail']}" if change["detail"] else ""
            line = f"{change['gateway']}: {change['action']} {change['kind']} {change['name']}"
            self.stdout.write(line + detail)
        if not run.changes:
            self.stdout.write("Nothing to change: the gateways hold the plan.")
        if run.status == SyncStatus.FAILED:
            raise CommandError(f"The sync failed: {run.error}")
        summary = f"Sync {run.pk} {run.get_status_display()}: {verb} {len(run.changes)} change(s)."
        self.stdout.write(self.style.SUCCESS(summary))
