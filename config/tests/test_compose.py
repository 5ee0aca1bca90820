"""docker-compose.yml as far as it can be checked without Docker (not on this machine):
the services it promises, the worker running the task queue, and one api.yaml path that
Switchboard writes and uni-api reads."""

from __future__ import annotations

from pathlib import PurePosixPath

import yaml

from config.tests.uvicorn import BASE_DIR

COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def mounts(service: str) -> dict[str, str]:
    """Volume name → where the service mounts it."""
    found = {}
    for volume in COMPOSE["services"][service].get("volumes", []):
        name, path, *_ = volume.split(":")
        found[name] = path
    return found


def test_it_runs_switchboard_s_web_and_worker_beside_gpt_load_uni_api_and_postgres() -> None:
    assert set(COMPOSE["services"]) == {"db", "web", "worker", "gpt-load", "uni-api"}
    assert COMPOSE["services"]["worker"]["command"][:3] == ["python", "manage.py", "db_worker"]
    for service in ("web", "worker"):
        environment = COMPOSE["services"][service]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://switchboard:")
        assert "@db:5432/" in environment["DATABASE_URL"]


def test_switchboard_writes_api_yaml_where_uni_api_reads_it() -> None:
    written = PurePosixPath(mounts("web")["uniapi-config"]) / "api.yaml"
    read_from = PurePosixPath(mounts("uni-api")["uniapi-config"])
    configured = PurePosixPath(COMPOSE["services"]["uni-api"]["environment"]["UNI_API_CONFIG_PATH"])

    assert mounts("worker")["uniapi-config"] == mounts("web")["uniapi-config"]
    assert configured.parent == read_from
    assert configured.name == written.name
    # The image makes the folder for its non-root user, so a new volume is writable.
    assert f"mkdir -p /data {written.parent}" in (BASE_DIR / "Dockerfile").read_text()


def test_every_secret_must_be_given() -> None:
    text = (BASE_DIR / "docker-compose.yml").read_text()

    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "POSTGRES_PASSWORD", "GPTLOAD_AUTH_KEY"):
        assert f"${{{name}:?" in text, name
