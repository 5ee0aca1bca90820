"""`manage.py seed_providers [--if-empty]`: add the missing built-in providers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.models import Provider
from providers.seeding import seed_providers


class Command(BaseCommand):
    help = (
        "Add the built-in providers that are missing, with starter models, storing "
        "<PRESET>_API_KEY values encrypted. Never changes a provider that exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Seed only a registry with no providers at all (what `make run` uses, so "
            "a built-in provider someone deleted stays deleted).",
        )

    def handle(self, *args: Any, if_empty: bool, **options: Any) -> None:
        if if_empty and Provider.objects.exists():
            self.stdout.write("Providers exist already; nothing seeded.")
            return
        try:
            report = seed_providers(api_keys=settings.PROVIDER_API_KEYS)
        except ValidationError as e:
            raise CommandError("; ".join(e.messages)) from None
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(warning))
        keys = f", {len(report.keys_stored)} keys stored" if report.keys_stored else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded providers: {len(report.created)} created, "
                f"{len(report.skipped)} skipped{keys}."
            )
        )
