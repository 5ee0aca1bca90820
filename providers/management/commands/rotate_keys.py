"""`manage.py rotate_keys`: re-encrypt every stored secret with the newest key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from providers.keys.rotation import RotationError, rotate_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key in FIELD_ENCRYPTION_KEYS. "
        "Safe to run again; once it succeeds, older keys can be dropped."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            done = rotate_all()
        except RotationError as error:
            raise CommandError(error.user_message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Rotated {done.rotated} secrets; {done.current} already used the newest key."
            )
        )
