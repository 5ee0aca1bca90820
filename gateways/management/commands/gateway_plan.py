"""`manage.py gateway_plan [--json]`: the groups a sync gives GPT-Load, from the catalogue
as it is stored (the same plan the model names page shows)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gateways import offers
from gateways.plan import MEMBER_WEIGHT, Group


class Command(BaseCommand):
    help = "Print the gateway group plan of the catalogue (read only: nothing is pushed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print it as JSON.")

    def handle(self, *args: Any, as_json: bool, **options: Any) -> None:
        plan = offers.current_plan()
        if as_json:
            self.stdout.write(json.dumps(plan.as_dict(), indent=2, ensure_ascii=False))
            return
        if not plan.groups:
            self.stdout.write("No groups: no enabled provider has a live, enabled model.")
        for group in plan.groups:
            self.stdout.write(_describe(group))
        for note in plan.notes:
            self.stdout.write(f"Note: {note}")


def _describe(group: Group) -> str:
    endpoint = f", key check on {group.validation_endpoint}" if group.validation_endpoint else ""
    if group.kind == "aggregate":
        members = ", ".join(f"{m} (weight {MEMBER_WEIGHT})" for m in group.members)
        return (
            f"{group.name}: aggregate ({group.channel_type}{endpoint}) serving {group.serves} "
            f"from {members}"
        )
    rules = "\n".join(
        f"    {name} → {original}" if name != original else f"    {name}"
        for name, original in group.redirects
    )
    return (
        f"{group.name}: {group.provider} ({group.channel_type}{endpoint}) at {group.upstream}, "
        f"test model {group.test_model}\n{rules}"
    )
