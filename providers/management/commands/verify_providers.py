"""`manage.py verify_providers [--provider NAME …] [--json]`: check that keys work."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.management.selection import add_provider_argument, providers_named
from providers.upstream.verification import verify_providers


class Command(BaseCommand):
    help = (
        "Verify providers with one minimal request each (all enabled providers unless "
        "--provider is given). Exits non-zero if any fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_provider_argument(parser)
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")

    def handle(self, *args: Any, provider: list[str] | None, json: bool, **options: Any) -> None:
        results = verify_providers(providers_named(provider))
        if json:
            self.stdout.write(_as_json(results))
        else:
            for checked, result in results:
                style = self.style.SUCCESS if result.ok else self.style.ERROR
                self.stdout.write(style(f"{checked.name}: {result.summary}"))
        failed = sum(not result.ok for _, result in results)
        if failed:
            raise CommandError(f"{failed} of {len(results)} providers failed verification.")
        self.stdout.write(f"{len(results)} providers verified.")


def _as_json(results: list) -> str:
    return json.dumps(
        [
            {
                "provider": provider.name,
                "ok": result.ok,
                "latency_ms": result.latency_ms,
                "category": result.category,
                "message": result.message,
                "checked": result.checked,
            }
            for provider, result in results
        ],
        indent=2,
    )
