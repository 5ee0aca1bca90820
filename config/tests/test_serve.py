"""`make run`'s serve step (config/serve.py) in a real process, on a real port."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from config.tests.uvicorn import BASE_DIR, free_port


def serve_command(port: int) -> list[str]:
    return [sys.executable, "-m", "config.serve", "--host", "127.0.0.1", "--port", str(port)]


def env_for(tmp_path: Path) -> dict[str, str]:
    # Its own database and static root: the serve step must not write into the checkout.
    return os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
    }


def test_a_port_in_use_is_one_sentence_naming_a_port_to_use_instead(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            serve_command(port),
            cwd=BASE_DIR,
            env=env_for(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert result.returncode == 1
    assert result.stderr == f"Port {port} is in use; run `make run PORT={port + 1}`.\n"
    assert result.stdout == ""


def test_it_says_where_it_serves_once_the_port_answers(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        serve_command(port),
        cwd=BASE_DIR,
        env=env_for(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with selectors.DefaultSelector() as waiting:
            waiting.register(process.stdout, selectors.EVENT_READ)
            assert waiting.select(timeout=60), "no line on stdout within 60 s"
        line = process.stdout.readline()
        # Right after the line, with no wait: the port is bound and the app loaded.
        url = f"http://127.0.0.1:{port}/healthz"
        with urllib.request.urlopen(url, timeout=30) as response:
            status = response.status
    finally:
        process.terminate()
        _, log = process.communicate(timeout=30)

    assert line == f"Serving on http://127.0.0.1:{port}/ (Ctrl+C stops)\n"
    assert status == 200
    assert "Traceback" not in log
    assert "Uvicorn running on" not in log  # the address is said once, by us
