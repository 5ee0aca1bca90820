"""Bring a gateway's configuration into the catalogue:
`manage.py import_gateway (--from-gptload | --from-api-yaml FILE) [--apply]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gateways import importing
from providers.errors import UserFacingError


class Command(BaseCommand):
    help = (
        "Read GPT-Load's groups or a uni-api api.yaml as providers and models, show what "
        "would change in the catalogue, and with --apply change it (conflicts are skipped)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--from-gptload", action="store_true", help="the configured GPT-Load instance"
        )
        source.add_argument("--from-api-yaml", metavar="FILE", help="a uni-api api.yaml")
        parser.add_argument("--apply", action="store_true", help="make the changes shown")

    def handle(
        self, *args: Any, from_gptload: bool, from_api_yaml: str | None, apply: bool, **options: Any
    ) -> None:
        try:
            found = (
                importing.read_gptload()
                if from_gptload
                else importing.from_api_yaml(_read(from_api_yaml))
            )
        except UserFacingError as error:
            raise CommandError(error.user_message) from None
        plan = importing.compare(found)
        for step in plan.steps:
            self.stdout.write(f"{step.action}: {step.provider}: {step.detail}")
        if not plan.changes:
            self.stdout.write("Nothing to bring in: the catalogue already has it all.")
            return
        if not apply:
            self.stdout.write(f"{len(plan.changes)} change(s) shown; run again with --apply.")
            return
        made = importing.apply(plan)
        self.stdout.write(self.style.SUCCESS(f"{made} change(s) made."))


def _read(path: str | None) -> str:
    try:
        return Path(path or "").read_text()
    except OSError as error:
        raise UserFacingError(f"{path} cannot be read: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise UserFacingError(f"{path} is not a text file.") from None
