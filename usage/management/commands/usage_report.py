"""`manage.py usage_report --since DATE --until DATE --by user|model|tier [--csv]`."""

from __future__ import annotations

import argparse
import csv
from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from usage.report import GROUPS, totals

COLUMNS = ("name", "tries", "input_tokens", "output_tokens", "team_cost", "personal_cost")


class Command(BaseCommand):
    help = (
        "Usage totals from the start of --since to the end of --until (TIME_ZONE's days), "
        "one row per person, model or tier; costs in USAGE_CURRENCY, the team's apart from "
        "answers on personal keys."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, type=_day, help="YYYY-MM-DD")
        parser.add_argument("--until", required=True, type=_day, help="YYYY-MM-DD, included")
        parser.add_argument("--by", required=True, choices=sorted(GROUPS))
        parser.add_argument("--csv", action="store_true", help="CSV with a header row")

    def handle(self, *args: Any, since: date, until: date, by: str, **options: Any) -> None:
        if until < since:
            raise CommandError(f"--until ({until}) is before --since ({since}).")
        rows = totals(since, until, by)
        if options["csv"]:
            writer = csv.writer(self.stdout)
            writer.writerow(COLUMNS)
            for row in rows:
                writer.writerow([getattr(row, column) for column in COLUMNS])
            return
        currency = settings.USAGE_CURRENCY
        header = [by, "tries", "input", "output", f"team {currency}", f"personal {currency}"]
        table = [header] + [
            [
                row.name,
                f"{row.tries:,}",
                f"{row.input_tokens:,}",
                f"{row.output_tokens:,}",
                f"{row.team_cost:,.4f}",
                f"{row.personal_cost:,.4f}",
            ]
            for row in rows
        ]
        widths = [max(len(line[n]) for line in table) for n in range(len(header))]
        for line in table:
            cells = [line[0].ljust(widths[0])] + [
                cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)
            ]
            self.stdout.write("  ".join(cells).rstrip())
        if not rows:
            self.stdout.write(f"No usage from {since} to {until}.")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (write YYYY-MM-DD)") from None
