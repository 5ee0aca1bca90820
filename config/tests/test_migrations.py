"""The migrations on disk match the models: a change without its migration fails here."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db
def test_no_model_change_lacks_its_migration() -> None:
    # --check exits non-zero when makemigrations would write a file.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_personal_keys_keep_their_rows_when_they_move_to_providers() -> None:
    executor = MigrationExecutor(connection)
    before = [("accounts", "0002_initial"), ("providers", "0002_settings_help_text")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    user = old.get_model("auth", "User").objects.create(username="alice")
    provider = old.get_model("providers", "Provider").objects.create(
        name="OpenAI", base_url="https://api.openai.com/v1"
    )
    old.get_model("accounts", "PersonalKey").objects.create(
        user_id=user.pk, provider_id=provider.pk, api_key="my-own-key-0123456789"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    new = executor.loader.project_state(executor.loader.graph.leaf_nodes()).apps
    moved = new.get_model("providers", "PersonalKey").objects.get()
    assert (moved.user_id, moved.provider_id) == (user.pk, provider.pk)
    assert moved.api_key.reveal() == "my-own-key-0123456789"
