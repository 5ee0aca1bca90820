"""`manage.py prune_usage [--days N]`: remove usage records past the retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from usage.models import UsageRecord

# Rows deleted a statement: a year of a busy team at once would hold SQLite's write lock
# (and every answer's end behind it) for seconds.
BATCH = 5_000


class Command(BaseCommand):
    help = (
        "Remove usage records older than USAGE_RETENTION_DAYS (or --days); the daily totals stay."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="Keep this many days instead.")

    def handle(self, *args: Any, days: int | None, **options: Any) -> None:
        keep = days if days is not None else settings.USAGE_RETENTION_DAYS
        if keep < 1:
            raise CommandError("--days must be 1 or more.")
        before = timezone.now() - timedelta(days=keep)
        removed = 0
        while batch := list(
            UsageRecord.objects.filter(created_at__lt=before).values_list("pk", flat=True)[:BATCH]
        ):
            removed += UsageRecord.objects.filter(pk__in=batch).delete()[0]
        self.stdout.write(f"Removed {removed:,} usage records from before {before:%Y-%m-%d}.")
