"""Re-encrypting every stored secret with the newest key in FIELD_ENCRYPTION_KEYS.

Every EncryptedTextField of every installed model takes part (the team's provider keys,
people's personal keys, whatever grows later), found through the app registry so a new
secret field never needs this module changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import transaction

from providers.errors import UserFacingError
from providers.keys import encryption
from providers.keys.encryption import Secret, UnreadableSecretError
from providers.keys.fields import EncryptedTextField


@dataclass(frozen=True)
class Rotation:
    rotated: int
    current: int  # already under the newest key


class RotationError(UserFacingError):
    pass


def rotate_all() -> Rotation:
    """Every secret under the newest key, in one transaction: all of them move, or none
    does (RotationError names the ones no configured key decrypts)."""
    rotated = current = 0
    unreadable: list[str] = []
    with transaction.atomic():
        for model, field in _secret_fields():
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
            raise RotationError(
                f"Nothing rotated: no configured key decrypts {', '.join(unreadable)}. "
                "Add back the key they were saved with, or re-enter them in the admin."
            )
    return Rotation(rotated, current)


def _secret_fields() -> list[tuple[type, EncryptedTextField]]:
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]
