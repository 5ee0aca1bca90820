from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import httpx2
import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.db import connection

from config.dev_env import write_dev_env
from config.tests.uvicorn import database_url, serve, stop


def read_env(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_it_writes_fresh_secrets_readable_only_by_the_owner(tmp_path: Path) -> None:
    target = tmp_path / ".env"

    assert write_dev_env(target)

    values = read_env(target)
    assert len(values["SECRET_KEY"]) >= 50
    Fernet(values["FIELD_ENCRYPTION_KEYS"])  # a valid key
    assert values["DEBUG"] == "False"
    assert (values["SESSION_COOKIE_SECURE"], values["CSRF_COOKIE_SECURE"]) == ("False", "False")
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


@pytest.mark.django_db(transaction=True)
def test_the_app_as_make_run_serves_it_shows_no_debug_page_and_logs_in_over_http(
    tmp_path: Path, collected_static: Path, user: User
) -> None:
    write_dev_env(tmp_path / ".env")
    env = os.environ | {
        "ENV_FILE": str(tmp_path / ".env"),
        "DATABASE_URL": database_url(connection.settings_dict),
        "STATIC_ROOT": str(collected_static),
    }
    env.pop("DEBUG")  # pytest-env sets it; `make run` reads the file's
    served = serve(env)
    try:
        with httpx2.Client(base_url=served.url) as browser:
            browser.get("/accounts/login/")
            token = browser.cookies["csrftoken"]
            login = browser.post(
                "/accounts/login/",
                data={"username": "alice", "password": "alice-password-1"},
                headers={"X-CSRFToken": token, "Referer": f"{served.url}/accounts/login/"},
            )
            chats = browser.get("/")
            missing = browser.get("/no/such/page/")
            no_answer = browser.get(f"/chat/{uuid.uuid4()}/answers/{uuid.uuid4()}/stream/")
    finally:
        stop(served)

    for response in (missing, no_answer):
        assert response.status_code == 404
        assert "Not Found" in response.text
        assert "DEBUG" not in response.text
        assert "Traceback" not in response.text
        assert "SECRET_KEY" not in response.text
    assert login.status_code == 302
    assert chats.status_code == 200
    assert "alice" in chats.text
