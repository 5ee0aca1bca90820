"""`manage.py rotate_keys`: re-encrypt every stored secret with the newest key."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from providers.keys import encryption
from providers.keys.encryption import Secret, UnreadableSecretError
from providers.keys.fields import EncryptedTextField


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key in FIELD_ENCRYPTION_KEYS. "
        "Safe to run again; once it succeeds, older keys can be dropped."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = current = 0
        unreadable: list[str] = []
        # One transaction: either every secret moves to the newest key or none does.
        with transaction.atomic():
            for model in apps.get_models():
                for field in model._meta.concrete_fields:
                    if not isinstance(field, EncryptedTextField):
                        continue
                    rows = model._base_manager.select_for_update().exclude(**{field.name: ""})
                    for row in rows:
                        token = getattr(row, field.attname).token()
                        if not encryption.needs_rotation(token):
                            current += 1
                            continue
                        try:
                            new_token = encryption.rotate(token)
                        except UnreadableSecretError:
                            unreadable.append(f"{model._meta.verbose_name} “{row}” ({field.name})")
                            continue
                        model._base_manager.filter(pk=row.pk).update(
                            **{field.attname: Secret.sealed(new_token)}
                        )
                        rotated += 1
            if unreadable:
                raise CommandError(
                    f"Nothing rotated: no configured key decrypts {', '.join(unreadable)}. "
                    "Add back the key they were saved with, or re-enter them in the admin."
                )
        self.stdout.write(
            self.style.SUCCESS(f"Rotated {rotated} secrets; {current} already used the newest key.")
        )
