"""Start and stop the app under a real uvicorn process, for tests that need the served app."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

BASE_DIR = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    url: str
    process: subprocess.Popen
    log: IO[bytes]  # what the server wrote to stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(env: dict[str, str]) -> Served:
    """uvicorn on a free loopback port with `env`; returns once it accepts connections."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--lifespan", "on"]
    # The log goes to a file, not a pipe: a pipe nobody reads until the end fills up (64
    # KiB) under a busy test, and the server then blocks writing its next line.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Served(f"http://127.0.0.1:{port}", process, log)
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    process.wait()
    raise RuntimeError(f"uvicorn did not start: {_read(log)}")


def stop(served: Served) -> str:
    """Stop the server; returns what it logged."""
    served.process.terminate()
    served.process.wait(timeout=10)
    return _read(served.log)


def _read(log: IO[bytes]) -> str:
    with log:
        log.seek(0)
        return log.read().decode()


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL naming the database `settings_dict` describes (the test database)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user, password = settings_dict["USER"], settings_dict["PASSWORD"]
    credentials = f"{user}:{password}" if password else user
    host, port, name = settings_dict["HOST"], settings_dict["PORT"], settings_dict["NAME"]
    return f"postgres://{credentials}@{host}:{port}/{name}"
