"""`manage.py fetch_models [--provider NAME …] [--enable-new]`: discover models."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.errors import UserFacingError
from providers.management.selection import add_provider_argument, providers_named
from providers.upstream.discovery import fetch_models


class Command(BaseCommand):
    help = (
        "Ask providers for their model lists (all enabled providers unless --provider is "
        "given): new models arrive disabled, models no longer listed are marked missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_provider_argument(parser)
        parser.add_argument(
            "--enable-new", action="store_true", help="Enable the models found new."
        )

    def handle(
        self, *args: Any, provider: list[str] | None, enable_new: bool, **options: Any
    ) -> None:
        failed = 0
        providers = providers_named(provider)
        for target in providers:
            try:
                summary = fetch_models(target, enable_new=enable_new or None)
            except UserFacingError as error:
                failed += 1
                self.stdout.write(self.style.ERROR(f"{target.name}: {error.description}"))
                continue
            new = f" ({', '.join(m.model_id for m in summary.new)})" if summary.new else ""
            self.stdout.write(self.style.SUCCESS(f"{target.name}: {summary.line}{new}"))
        if failed:
            raise CommandError(f"{failed} of {len(providers)} providers could not list models.")
