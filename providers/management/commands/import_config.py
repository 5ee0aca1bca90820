"""`manage.py import_config FILE [--dry-run] [--prune]`: apply a catalogue file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.catalogue import MAX_BYTES, CatalogueError, decode, read_document


class Command(BaseCommand):
    help = (
        "Validate a catalogue file (YAML, or the flat JSON format), print the plan, "
        "and apply it in one transaction unless --dry-run. ${NAME} keys come from the environment "
        "(names ending in _API_KEY, or listed in CATALOGUE_KEY_VARIABLES)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Print the plan only.")
        parser.add_argument(
            "--prune", action="store_true", help="Delete what the file does not list."
        )

    def handle(self, *args: Any, file: Path, dry_run: bool, prune: bool, **options: Any) -> None:
        try:
            with file.open("rb") as opened:
                data = opened.read(MAX_BYTES + 1)  # enough to know it is too big
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            plan = read_document(decode(data), env=settings.CATALOGUE_KEY_ENV)
            for note in plan.notes:
                self.stderr.write(self.style.WARNING(note))
            for change in plan.changes:
                if change.action != "prune" or prune or dry_run:
                    self.stdout.write(str(change))
            if dry_run:
                self.stdout.write("Dry run: nothing was changed.")
                return
            applied = plan.apply(prune=prune)
        except CatalogueError as error:
            listing = "\n".join(f"  {problem}" for problem in error.problems)
            raise CommandError(f"{file} has {len(error.problems)} problems:\n{listing}") from None
        self.stdout.write(self.style.SUCCESS(f"Applied {len(applied)} changes."))
