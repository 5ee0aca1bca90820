"""Startup from the environment, checked in a fresh process as a deployment would run it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

from config.tests.uvicorn import BASE_DIR


def manage(*args: str, drop: tuple[str, ...] = (), **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in drop} | {"ENV_FILE": ""} | env
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def last_line(result: subprocess.CompletedProcess) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_startup_stops_with_one_sentence_when_the_encryption_keys_are_missing() -> None:
    result = manage("check", drop=("FIELD_ENCRYPTION_KEYS",))

    assert result.returncode != 0
    assert last_line(result) == (
        "django.core.exceptions.ImproperlyConfigured: FIELD_ENCRYPTION_KEYS is not set: "
        "set it to one or more comma-separated Fernet keys, newest first "
        "(`make run` writes one to .env)."
    )


@pytest.mark.parametrize(
    "keys",
    [
        "not-a-key",
        f"{Fernet.generate_key().decode()},tooshort",
        Fernet.generate_key().decode()[:-4],
    ],
    # Named, not shown: parallel workers must collect the same test ids.
    ids=["not-base64", "good-then-short", "cut-short"],
)
def test_startup_stops_on_a_malformed_key_without_printing_it(keys: str) -> None:
    result = manage("check", FIELD_ENCRYPTION_KEYS=keys)

    assert result.returncode != 0
    assert "is not a Fernet key (32 url-safe base64-encoded bytes)" in last_line(result)
    for key in keys.split(","):
        assert key not in result.stderr + result.stdout


def test_startup_stops_when_the_secret_key_is_missing() -> None:
    result = manage("check", drop=("SECRET_KEY",))

    assert "ImproperlyConfigured: SECRET_KEY is not set" in last_line(result)


def test_several_keys_newest_first_are_accepted() -> None:
    keys = f"{Fernet.generate_key().decode()}, {Fernet.generate_key().decode()}"

    assert manage("check", FIELD_ENCRYPTION_KEYS=keys).returncode == 0


PRODUCTION = {
    "DEBUG": "False",
    "SECRET_KEY": "a" * 10 + "production-like-secret-key-with-enough-variety-0123456789-XYZ",
    "ALLOWED_HOSTS": "switchboard.example.com",
    "SECURE_SSL_REDIRECT": "True",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "True",
    "SECURE_HSTS_PRELOAD": "True",
}


def test_the_deployment_check_is_clean_under_a_production_environment() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("name", "value", "warning"),
    [
        ("SECURE_HSTS_SECONDS", "0", "security.W004"),
        ("SECURE_SSL_REDIRECT", "False", "security.W008"),
        ("CSRF_COOKIE_SECURE", "False", "security.W016"),
    ],
)
def test_the_deployment_check_looks_at_the_settings_of_our_subclassed_middleware(
    name: str, value: str, warning: str
) -> None:
    # Django skips these checks when it does not find its middleware by path
    # (config/checks.py).
    result = manage("check", "--deploy", "--fail-level", "WARNING", **(PRODUCTION | {name: value}))

    assert result.returncode != 0
    assert warning in result.stderr


def test_the_deployment_check_flags_a_development_environment() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="True")

    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on


@pytest.mark.parametrize("name", ["LOGIN_FAILURE_LIMIT", "LOGIN_LOCKOUT_MINUTES"])
def test_startup_stops_when_a_sign_in_throttling_limit_is_below_one(name: str) -> None:
    result = manage("check", **{name: "0"})

    assert result.returncode != 0
    assert last_line(result) == (
        f"django.core.exceptions.ImproperlyConfigured: {name} must be a whole number "
        "of at least 1, not 0."
    )


def workers_setting(*, cores: set[int] | None = None, **env: str) -> subprocess.CompletedProcess:
    """WEB_CONCURRENCY as a process confined to `cores` reads it (a container's cpuset)."""
    code = "from django.conf import settings; print(settings.WEB_CONCURRENCY)"
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=BASE_DIR,
        env={k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"} | env,
        preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_workers_default_to_the_cores_the_process_may_use() -> None:
    allowed = os.sched_getaffinity(0)

    alone = workers_setting(cores={min(allowed)})
    every = workers_setting()

    assert alone.stdout == "1\n", alone.stderr
    assert every.stdout == f"{min(len(allowed), 8)}\n", every.stderr


def test_the_workers_setting_wins_and_cannot_be_zero() -> None:
    one_core = {min(os.sched_getaffinity(0))}

    chosen = workers_setting(cores=one_core, WEB_CONCURRENCY="3")
    refused = workers_setting(WEB_CONCURRENCY="0")

    assert chosen.stdout == "3\n", chosen.stderr
    assert refused.returncode != 0
    assert last_line(refused) == (
        "django.core.exceptions.ImproperlyConfigured: WEB_CONCURRENCY must be a whole number "
        "of at least 1, not 0."
    )


def test_every_variable_read_is_in_the_readme_and_the_example_env() -> None:
    readme = (BASE_DIR / "README.md").read_text()
    example = (BASE_DIR / ".env.example").read_text()

    # ENV_FILE names the file itself, so the file cannot be where it is set.
    for name in settings.SWITCHBOARD_VARIABLES - {"ENV_FILE"}:
        assert f"`{name}`" in readme, name
        assert f"{name}=" in example, name
