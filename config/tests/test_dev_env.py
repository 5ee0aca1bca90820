from __future__ import annotations

import stat
from pathlib import Path

from cryptography.fernet import Fernet

from config.dev_env import write_dev_env


def read_env(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_it_writes_fresh_secrets_readable_only_by_the_owner(tmp_path: Path) -> None:
    target = tmp_path / ".env"

    assert write_dev_env(target)

    values = read_env(target)
    assert len(values["SECRET_KEY"]) >= 50
    Fernet(values["FIELD_ENCRYPTION_KEYS"])  # a valid key
    assert values["DEBUG"] == "True"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_it_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    target.write_text("SECRET_KEY=mine\n")

    assert not write_dev_env(target)
    assert target.read_text() == "SECRET_KEY=mine\n"


def test_each_run_makes_different_secrets(tmp_path: Path) -> None:
    write_dev_env(tmp_path / "a")
    write_dev_env(tmp_path / "b")

    assert read_env(tmp_path / "a") != read_env(tmp_path / "b")
