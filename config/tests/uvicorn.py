"""Start and stop the app under a real uvicorn process, for tests that need the served app."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    url: str
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(env: dict[str, str]) -> Served:
    """uvicorn on a free loopback port with `env`; returns once it accepts connections."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--lifespan", "off"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Served(f"http://127.0.0.1:{port}", process)
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"uvicorn did not start: {process.stderr.read().decode()}")


def stop(served: Served) -> str:
    """Stop the server; returns what it logged."""
    served.process.terminate()
    _, stderr = served.process.communicate(timeout=10)
    return stderr.decode()


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL naming the database `settings_dict` describes (the test database)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user, password = settings_dict["USER"], settings_dict["PASSWORD"]
    credentials = f"{user}:{password}" if password else user
    host, port, name = settings_dict["HOST"], settings_dict["PORT"], settings_dict["NAME"]
    return f"postgres://{credentials}@{host}:{port}/{name}"
