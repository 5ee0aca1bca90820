"""The migrations on disk match the models: a change without its migration fails here."""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_its_migration() -> None:
    # --check exits non-zero when makemigrations would write a file.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
