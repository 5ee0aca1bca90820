"""`manage.py export_config [-o FILE]`: the catalogue as YAML, keys as ${ENV} references."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from providers.catalogue import export_document


class Command(BaseCommand):
    help = "Write providers, models and tiers as YAML (no key is ever written)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-o", "--output", type=Path, help="Write here instead of stdout.")

    def handle(self, *args: Any, output: Path | None, **options: Any) -> None:
        document = export_document()
        if output is None:
            self.stdout.write(document, ending="")
            return
        output.write_text(document)
        self.stderr.write(f"Wrote {output}.")
