"""Which providers a command acts on: those named, else every enabled one."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from providers.models import Provider


def providers_named(names: list[str] | None) -> list[Provider]:
    if not names:
        return list(Provider.objects.filter(enabled=True))
    found = {p.name: p for p in Provider.objects.filter(name__in=names)}
    unknown = [name for name in names if name not in found]
    if unknown:
        known = ", ".join(Provider.objects.values_list("name", flat=True)) or "none"
        raise CommandError(f"No provider named {', '.join(unknown)} (known: {known}).")
    return [found[name] for name in names]


def add_provider_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--provider",
        action="append",
        metavar="NAME",
        help="Act on this provider (repeatable); default: every enabled provider.",
    )
