"""The app as the benchmarks serve it: DEBUG off, a throwaway SQLite database (or the one
DATABASE_URL names), collected static files, rows seeded through the ORM, and uvicorn;
beside it the fake upstream in a process of its own.

The bench process loads Django itself (`orm`) to seed, with the environment the server
gets, and closes its connections before the server starts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import proc

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-7c1e"  # noqa: S105 - a throwaway database's users
FAKE_MODEL = "gpt-4o"  # one the fake upstream knows


@dataclass
class Server:
    url: str
    process: subprocess.Popen


def environment(workdir: Path) -> dict[str, str]:
    """The server's environment: its database in `workdir` unless DATABASE_URL names one."""
    return os.environ | {
        "ENV_FILE": "",
        "DEBUG": "False",
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "FIELD_ENCRYPTION_KEYS": os.environ.get(
            "FIELD_ENCRYPTION_KEYS", "Vq4U7ZvNnlSPyMz9Jd9H5mU1qVJm9s3ZpKx2pQ1v0aE="
        ),
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{workdir / 'db.sqlite3'}"),
        "STATIC_ROOT": str(workdir / "static"),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain http on loopback: secure-only cookies would never be sent back.
        "SESSION_COOKIE_SECURE": "False",
        "CSRF_COOKIE_SECURE": "False",
        "LOG_LEVEL": "WARNING",
    }


def prepare(env: dict[str, str]) -> None:
    """Migrate the database and collect the static files the pages link to."""
    for command in (["migrate"], ["collectstatic", "--noinput"]):
        manage = [sys.executable, "manage.py", *command, "-v", "0"]
        subprocess.run(manage, cwd=ROOT, env=env, check=True)


def orm(env: dict[str, str]) -> None:
    """Load Django in this process, with the server's settings, to seed rows."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


def set_up(
    *, tokens: int, token_delay: float, usernames: list[str]
) -> tuple[Path, dict[str, str], Server]:
    """A throwaway workdir and database, migrated, with the fake upstream started (`tokens`
    tokens, `token_delay` seconds apart) and the bench's model and people seeded: the
    workdir, the server's environment and the fake, which the caller stops."""
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    env = environment(workdir)
    prepare(env)
    orm(env)
    fake = start_fake(tokens=tokens, token_delay=token_delay)
    try:
        seed_fake_provider(fake.url)
        seed_users(usernames)
        close_connections()
    except BaseException:
        stop(fake)
        raise
    return workdir, env, fake


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{what} did not start listening on port {port}")


def serve(env: dict[str, str], *, workers: int, log: Path, root: Path = ROOT) -> Server:
    """Switchboard as `make run` serves it (config.serve, uvicorn's access log included),
    with WEB_CONCURRENCY workers, from the checkout `root`; returns once it says it
    serves. Its output goes to `log`."""
    port = free_port()
    command = [sys.executable, "-m", "config.serve", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env | {"WEB_CONCURRENCY": str(workers)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while b"Serving on" not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"Switchboard did not start; its log: {log}")
        time.sleep(0.1)
    server = Server(f"http://127.0.0.1:{port}", process)
    if workers > 1 and len(proc.tree(process.pid)) <= workers:
        stop(server)
        raise RuntimeError(f"config.serve here takes no WEB_CONCURRENCY: not {workers} workers")
    return server


def start_fake(*, tokens: int, token_delay: float) -> Server:
    """The fake upstream in its own process, so its threads share no GIL with the bench."""
    port = free_port()
    command = [sys.executable, "-m", "fakes.upstream", "--port", str(port)]
    command += ["--tokens", str(tokens), "--token-delay", str(token_delay)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    wait_listening(port, process, "The fake upstream")
    return Server(f"http://127.0.0.1:{port}/v1", process)


def stop(*servers: Server) -> None:
    for server in servers:
        server.process.terminate()
    for server in servers:
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()


def seed_users(names: list[str], *, staff: bool = False) -> None:
    """Users who sign in with PASSWORD; hashed once, as hashing is slow on purpose."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User

    hashed = make_password(PASSWORD)
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    User.objects.bulk_create(
        User(username=name, password=hashed, is_staff=staff, is_superuser=staff)
        for name in names
        if name not in existing
    )


def seed_fake_provider(base_url: str) -> int:
    """The one usable model: FAKE_MODEL on a provider pointed at the fake; its pk."""
    from providers.models import LLMModel, Provider

    provider, _ = Provider.objects.update_or_create(
        name="Bench fake",
        defaults={
            "preset": "custom",
            "protocol": "openai",
            "base_url": base_url,
            "allow_private_network": True,
            "api_key": "sk-bench-0000000000000000",
            "enabled": True,
        },
    )
    model, _ = LLMModel.objects.update_or_create(
        provider=provider, model_id=FAKE_MODEL, defaults={"enabled": True}
    )
    usable = list(LLMModel.objects.usable().values_list("pk", flat=True))
    if usable != [model.pk]:
        raise RuntimeError(f"expected one usable model, the bench's; found {len(usable)}")
    return model.pk


def close_connections() -> None:
    from django.db import connections

    connections.close_all()
