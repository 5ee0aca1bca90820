"""Fixtures every app's tests share: people to log in as, the served app, a browser."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, connections
from django.test import Client, override_settings
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from config.tests.uvicorn import BASE_DIR, Served, database_url, serve, stop
from fakes import gptload
from fakes.upstream import FakeUpstream, serving
from providers.tests.factories import ANTHROPIC_KEY, OPENAI_KEY
from providers.tests.leaks import assert_keyless

# expect() waits 5 s by default: too little for a stream to start on a busy two-core
# machine. A generous deadline costs nothing when the page is quick.
expect.set_options(timeout=20_000)

# Debian's chromium, not a Playwright download; the flags keep it off the closed network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    # A host name that is not localhost, for what a browser allows only on a secure
    # origin (the clipboard API): plain http under this name is not one.
    "--host-resolver-rules=MAP switchboard.test 127.0.0.1",
]


def pytest_report_header() -> str:
    return f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (make test, .ci/run): a worker per core, at most four.

    Each worker runs its own servers, at most two at once, each with a pool of up to
    DB_POOL_SIZE (8) connections: four workers' servers and tests stay well under the
    max_connections of 100 that CI's PostgreSQL keeps from its defaults.
    """
    return min(os.cpu_count() or 1, 4)


@pytest.fixture
def fake_upstream() -> Iterator[FakeUpstream]:
    """A real server speaking OpenAI's and Anthropic's formats; see fakes/upstream.py."""
    with serving(FakeUpstream()) as upstream:
        yield upstream


@pytest.fixture
def fake_gptload() -> Iterator[gptload.FakeGPTLoad]:
    """A real server answering as GPT-Load v1.4's management API; see fakes/gptload.py."""
    with gptload.serving(gptload.FakeGPTLoad()) as fake:
        yield fake


@pytest.fixture
def user(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def other_user(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user("bob", password="bob-password-1")


@pytest.fixture
def staff(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_superuser("charlie", password="charlie-password-1")


@pytest.fixture
def staff_client(client: Client, staff: User) -> Client:
    client.force_login(staff)
    return client


@pytest.fixture(autouse=True, scope="session")
def _no_sqlite_journal_left() -> Iterator[None]:
    """The SQLite test database goes whole: Django deletes its file at the end, but its
    -wal and -shm stay while a thread's connection is still open (as the request threads'
    persistent ones are); its teardown runs before this one's."""
    yield
    if connection.vendor == "sqlite":
        database = Path(connection.settings_dict["TEST"]["NAME"])
        if not database.exists():
            for journal in ("-wal", "-shm"):
                database.with_name(database.name + journal).unlink(missing_ok=True)


@pytest.fixture(autouse=True, scope="session")
def _static_files_without_manifest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Templates resolve {% static %} without a collectstatic run first.

    The manifest storage needs collected files; tests that need them (the served-app
    test) run collectstatic themselves.
    """
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    static_root = tmp_path_factory.mktemp("static")  # the static server warns when it is missing
    storages = settings.STORAGES | {"staticfiles": plain}
    with override_settings(STORAGES=storages, STATIC_ROOT=static_root):
        yield


@pytest.fixture(autouse=True, scope="session")
def _quick_password_hashing() -> Iterator[None]:
    """Users made and logged in here hash quickly; see accounts/tests/hashers.py."""
    with override_settings(PASSWORD_HASHERS=["accounts.tests.hashers.QuickPBKDF2PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Static files collected once, as a deployment has them (hashed names, compressed)."""
    root = tmp_path_factory.mktemp("collected")
    env = os.environ | {"ENV_FILE": "", "STATIC_ROOT": str(root)}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        timeout=120,
    )
    return root


@pytest.fixture
def asgi_env() -> dict[str, str]:
    """More environment for the served app; a test module overrides this to configure it."""
    return {}


@pytest.fixture
def served_env(
    transactional_db: None, collected_static: Path, asgi_env: dict[str, str]
) -> dict[str, str]:
    """The environment the app is served with: DEBUG off, this test's database.

    Rows the test creates are committed (transactional_db), so the server sees them.
    """
    return (
        os.environ
        | {
            "ENV_FILE": "",
            "DEBUG": "False",
            "DATABASE_URL": database_url(connection.settings_dict),
            "STATIC_ROOT": str(collected_static),
            "ALLOWED_HOSTS": "127.0.0.1",
            # Plain http on loopback: secure-only cookies would never be sent back.
            "SESSION_COOKIE_SECURE": "False",
            "CSRF_COOKIE_SECURE": "False",
        }
        | asgi_env
    )


@pytest.fixture
def served_app(served_env: dict[str, str]) -> Iterator[Served]:
    """The app under uvicorn (its process, for tests that measure it; most want
    `asgi_server`, its URL)."""
    served = serve(served_env)
    yield served
    _stop_checking_log(served)


@pytest.fixture
def second_server(served_app: Served, served_env: dict[str, str]) -> Iterator[str]:
    """Another server process on the same database, as a second worker or instance is."""
    served = serve(served_env)
    yield served.url
    _stop_checking_log(served)


def _stop_checking_log(served: Served) -> None:
    # Every failure a test provokes must end as a readable error, never as a traceback,
    # and no key the tests use may reach the log in any form.
    log = stop(served)
    assert "Traceback" not in log, log
    for key in (OPENAI_KEY, ANTHROPIC_KEY):
        assert_keyless(log, key, shows="Started server process")  # the log was captured


@pytest.fixture
def asgi_server(served_app: Served) -> str:
    return served_app.url


# Runs in every document before its own scripts. Playwright injects it over CDP, so the
# page's Content-Security-Policy does not block it, and the binding pushes each violation
# to Python as it happens: one on a page the test has since left is not lost.
REPORT_CSP_VIOLATIONS = """
window.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} `
    + `at ${event.sourceFile || event.documentURI}:${event.lineNumber} ${event.sample}`
  );
}, true);
"""


@pytest.fixture
def csp_violations() -> list[str]:
    """What the browser refused under the Content-Security-Policy, as the `page` saw it.

    `page` fails the test after it when this is not empty; a test that provokes a
    violation on purpose reads and clears it.
    """
    return []


@pytest.fixture(scope="session")
def chromium() -> Iterator[tuple[Browser, asyncio.AbstractEventLoop]]:
    """One Chromium for the whole run; each test gets a context of its own (`page`).

    Starting Playwright's driver and a browser costs about a second, more on a busy
    machine, and the suite has dozens of browser tests. Playwright's sync API marks its
    event loop as running in this thread between calls; Django then refuses ORM calls
    here ("async context") although none is async. So the loop is shown only while a
    `page` is open, and every other test keeps Django's check.
    """
    with sync_playwright() as playwright:
        loop = asyncio.get_running_loop()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        asyncio._set_running_loop(None)
        yield browser, loop
        asyncio._set_running_loop(loop)
        browser.close()


@pytest.fixture
def page(
    chromium: tuple[Browser, asyncio.AbstractEventLoop],
    monkeypatch: pytest.MonkeyPatch,
    csp_violations: list[str],
) -> Iterator[Page]:
    """A page in a fresh browser context: no cookies or storage from another test.

    Django's async-context check is off while it is open (see `chromium`). Every page
    the test opens is watched for Content-Security-Policy violations: the
    securitypolicyviolation event, and Chromium's console error for the same refusal.
    """
    browser, loop = chromium
    asyncio._set_running_loop(loop)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        context = browser.new_context()
        context.expose_binding(
            "reportCspViolation", lambda _source, text: csp_violations.append(text)
        )
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.on("console", lambda message: _record_csp_console_error(message, csp_violations))
        yield context.new_page()
        # The ORM calls a test makes while Playwright's loop runs get connections of their
        # own (asgiref keys them by context); left open, PostgreSQL refuses to drop the
        # test database at the end of the run.
        connections.close_all()
        for opened in context.pages:
            # A round trip into each page lets events it has already queued reach Python.
            with contextlib.suppress(PlaywrightError):  # mid-navigation: nothing left queued
                opened.evaluate("() => new Promise((resolve) => setTimeout(resolve))")
        context.close()
    finally:
        asyncio._set_running_loop(None)
    if csp_violations:
        pytest.fail("The Content-Security-Policy blocked:\n" + "\n".join(csp_violations))


def _record_csp_console_error(message: ConsoleMessage, into: list[str]) -> None:
    if message.type == "error" and "Content Security Policy" in message.text:
        into.append(f"console: {message.text}")
