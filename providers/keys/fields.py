"""EncryptedTextField: a text column holding a Fernet token, read as a Secret.

Loading a row never decrypts (an admin list with an unreadable key still renders);
the value is decrypted when `reveal()` or `masked()` asks for it. Assigning a plain
string stores it encrypted with the newest key at the next save. An empty value stays
"" in the column, so "has a key" is a plain SQL filter.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from providers.keys.encryption import Secret


class _SecretAttribute(DeferredAttribute):
    """Wraps whatever is assigned in a Secret, so the attribute is one type everywhere."""

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = self.field.to_python(value)


class EncryptedTextField(models.TextField):
    descriptor_class = _SecretAttribute

    def to_python(self, value: Any) -> Secret:
        if isinstance(value, Secret):
            return value
        return Secret("" if value is None else str(value))

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Secret:
        return Secret.sealed(value) if value else Secret()

    def get_prep_value(self, value: Any) -> str:
        return self.to_python(value).token()

    def value_to_string(self, obj: models.Model) -> str:
        # dumpdata and other serializers get the token, never the plain value.
        return self.value_from_object(obj).token()
