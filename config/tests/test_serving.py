"""The app as deployed: uvicorn, DEBUG off, collected static files, a real database file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message

import pytest

from config.tests.uvicorn import BASE_DIR, Served, serve, stop


def fetch(url: str) -> tuple[int, Message, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture(scope="module")
def production_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("served")
    env = os.environ | {
        "ENV_FILE": "",
        "DEBUG": "False",
        "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
        "STATIC_ROOT": str(root / "static"),
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "-v", "0"],
            cwd=BASE_DIR,
            env=env,
            check=True,
            timeout=120,
        )
    return env


@pytest.fixture(scope="module")
def server(production_env: dict[str, str]) -> Iterator[Served]:
    served = serve(production_env)
    yield served
    stop(served)


def test_uvicorn_serves_the_health_check(server: Served) -> None:
    status, _, body = fetch(server.url + "/healthz")

    assert (status, body) == (200, b'{"status": "ok", "database": "ok"}')


def test_uvicorn_serves_hashed_static_files_with_debug_off(server: Served) -> None:
    status, _, page = fetch(server.url + "/accounts/login/")
    stylesheet = re.search(rb'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page)

    assert status == 200
    assert stylesheet, page[:500]
    status, headers, css = fetch(server.url + stylesheet[1].decode())
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert "immutable" in headers["Cache-Control"]
    assert b"--accent" in css


def test_an_anonymous_page_visit_is_sent_to_log_in(server: Served) -> None:
    request = urllib.request.Request(server.url + "/")  # noqa: S310 - loopback only
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(request, timeout=10)

    assert caught.value.code == 302
    assert caught.value.headers["Location"] == "/accounts/login/?next=/"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_healthz_says_503_and_nothing_more_when_the_database_is_down(
    production_env: dict[str, str],
) -> None:
    password = "db-password-never-shown"
    # Nothing listens on port 1 of loopback: the connection is refused at once.
    env = production_env | {"DATABASE_URL": f"postgres://switchboard:{password}@127.0.0.1:1/x"}
    served = serve(env)
    try:
        status, _, body = fetch(served.url + "/healthz")
    finally:
        logs = stop(served)

    assert (status, body) == (503, b'{"status": "error", "database": "unreachable"}')
    assert "Health check: the database is unreachable" in logs
    assert "Startup: the database did not say which providers are enabled" in logs
    assert password not in logs
