"""export_config and import_config as a person runs them, and the flat JSON format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from pytest_django.fixtures import Settings

from config.tests.uvicorn import BASE_DIR, database_url
from providers.models import LLMModel, Provider, Tier
from providers.tests.factories import OPENAI_KEY, make_model, make_provider

pytestmark = pytest.mark.django_db


def test_export_to_a_file_then_a_dry_run_import_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    make_model(make_provider(), model_id="gpt-4o")
    target = tmp_path / "catalogue.yaml"
    call_command("export_config", "-o", str(target))
    settings.CATALOGUE_KEY_ENV = {"OPENAI_API_KEY": OPENAI_KEY}

    call_command("import_config", str(target), "--dry-run")

    out = capsys.readouterr().out
    exported = target.read_text()
    assert "name: OpenAI" in exported
    assert "${OPENAI_API_KEY}" in exported  # where the key goes, named, not the key
    assert OPENAI_KEY not in exported
    assert "unchanged provider OpenAI" in out
    assert "unchanged model OpenAI/gpt-4o" in out
    assert "Dry run: nothing was changed." in out


def test_a_broken_file_lists_every_problem_and_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "broken.yaml"
    target.write_text("providers:\n  - {name: A, preset: nope}\n  - {preset: openai}\n")

    with pytest.raises(CommandError) as caught:
        call_command("import_config", str(target))

    message = str(caught.value)
    assert "has 2 problems" in message
    assert "providers[0].preset: nope is not a preset" in message
    assert "providers[1].name: is required" in message
    assert not Provider.objects.exists()


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"Cannot read .*nowhere\.yaml: No such file"):
        call_command("import_config", str(tmp_path / "nowhere.yaml"))


def test_the_flat_json_format_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    settings.CATALOGUE_KEY_ENV = {"GROQ_TEAM_API_KEY": "gsk_" + "g" * 40}
    registry = {
        "default_model": "gpt-4o-mini",
        "provider_configs": {
            "groq-team": {
                "base_url": "https://api.groq.com/openai/v1",
                "api_key": "${GROQ_TEAM_API_KEY}",
            }
        },
        "models": [
            {
                "display_name": "GPT-4o",
                "model": "gpt-4o",
                "base_url": "https://api.openai.com/v1",
                "api_key": OPENAI_KEY,
                "allowed_tiers": ["pro"],
            },
            {
                "display_name": "Mini",
                "model": "gpt-4o-mini",
                "base_url": "https://api.openai.com/v1",
                "temperature": 0.2,
            },
            {"model": "llama-3.3-70b-versatile", "base_url": "https://api.groq.com/openai/v1"},
        ],
        "owner": "platform team",
    }
    target = tmp_path / "registry.json"
    target.write_text(json.dumps(registry))

    call_command("import_config", str(target))

    captured = capsys.readouterr()
    openai = Provider.objects.get(name="OpenAI")
    assert openai.api_key.reveal() == OPENAI_KEY
    assert Provider.objects.get(name="groq-team").api_key.reveal() == "gsk_" + "g" * 40
    gpt = LLMModel.objects.get(model_id="gpt-4o")
    assert (gpt.display_name, [t.name for t in gpt.allowed_tiers.all()]) == ("GPT-4o", ["pro"])
    assert Tier.objects.get(is_default=True).default_model.model_id == "gpt-4o-mini"
    assert "owner: cannot be mapped (ignored)" in captured.err
    assert "models[1].temperature: cannot be mapped (ignored)" in captured.err
    assert "models[0].api_key: a plain key was found" in captured.err
    assert OPENAI_KEY not in captured.out + captured.err


@pytest.mark.django_db(transaction=True)
def test_import_config_reads_only_provider_key_variables_from_its_environment(
    tmp_path: Path,
) -> None:
    target = tmp_path / "catalogue.yaml"
    target.write_text(
        "providers:\n"
        "  - {name: A, preset: custom, base_url: 'https://a.example/v1',"
        " api_key: '${SECRET_KEY}'}\n"
        "  - {name: B, preset: custom, base_url: 'https://b.example/v1',"
        " api_key: '${FIELD_ENCRYPTION_KEYS}'}\n"
        "  - {name: C, preset: custom, base_url: 'https://c.example/v1',"
        " api_key: '${TEAM_TOKEN}'}\n"
    )
    env = os.environ | {
        "ENV_FILE": "",
        "DATABASE_URL": database_url(connection.settings_dict),
        "CATALOGUE_KEY_VARIABLES": "FIELD_ENCRYPTION_KEYS,TEAM_TOKEN",
        "TEAM_TOKEN": OPENAI_KEY,
    }
    command = [sys.executable, "manage.py", "import_config", str(target), "--dry-run"]

    refused = subprocess.run(
        command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    target.write_text(
        "providers:\n  - {name: C, preset: custom, base_url: 'https://c.example/v1',"
        " api_key: '${TEAM_TOKEN}'}\n"
    )
    accepted = subprocess.run(
        command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert refused.returncode == 1
    assert "has 2 problems" in refused.stderr
    assert "SECRET_KEY is one of Switchboard's own settings" in refused.stderr
    assert "FIELD_ENCRYPTION_KEYS is one of Switchboard's own settings" in refused.stderr
    for secret in (os.environ["SECRET_KEY"], os.environ["FIELD_ENCRYPTION_KEYS"], OPENAI_KEY):
        assert secret not in refused.stdout + refused.stderr + accepted.stdout + accepted.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert "create provider C" in accepted.stdout


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[" * 5000 + b"]" * 5000, "nested deeper than 20 levels"),
        ("tiers: [{name: caf\xe9}]\n".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
        (b"tiers: []\n" + b"#" * (2 * 1024 * 1024), "larger than the limit of 1024 KiB"),
        (b"version: !!bool maybe\n", "this bool value cannot be read"),
    ],
    ids=["deep", "latin-1", "too big", "bad tag"],
)
def test_import_config_refuses_a_bad_file_with_its_reason(
    tmp_path: Path, data: bytes, expected: str
) -> None:
    target = tmp_path / "bad.yaml"
    target.write_bytes(data)

    with pytest.raises(CommandError) as caught:
        call_command("import_config", str(target))

    assert expected in str(caught.value)
    assert not Provider.objects.exists()
