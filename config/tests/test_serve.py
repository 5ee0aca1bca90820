"""`make run`'s serve step (config/serve.py) in a real process, on a real port."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

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


@contextmanager
def serving(tmp_path: Path, **env: str) -> Iterator[tuple[subprocess.Popen, str, int]]:
    """The serve step running: its process, the line it printed first, and its port."""
    port = free_port()
    process = subprocess.Popen(
        serve_command(port),
        cwd=BASE_DIR,
        env=env_for(tmp_path) | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with selectors.DefaultSelector() as waiting:
            waiting.register(process.stdout, selectors.EVENT_READ)
            assert waiting.select(timeout=120), "no line on stdout within 120 s"
        yield process, process.stdout.readline(), port
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=60)


def healthz(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as response:
        return response.status


@pytest.mark.parametrize("workers", ["1", "2"])
def test_it_says_where_it_serves_once_the_port_answers(tmp_path: Path, workers: str) -> None:
    with serving(tmp_path, WEB_CONCURRENCY=workers) as (process, line, port):
        # Right after the line, with no wait: the port is bound and the app loaded.
        status = healthz(port)
        process.terminate()
        _, log = process.communicate(timeout=60)

    assert line == f"Serving on http://127.0.0.1:{port}/ (Ctrl+C stops)\n"
    assert status == 200
    assert "Traceback" not in log
    assert "Uvicorn running on" not in log  # the address is said once, by us


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        # After the command name, which is in parentheses and may hold anything: state, ppid.
        if int(text.rpartition(")")[2].split()[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def listening_socket(port: int) -> str:
    """The listening loopback socket on `port`, as /proc names it in a process's fds."""
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":  # 0A: LISTEN
            return f"socket:[{fields[9]}]"
    raise AssertionError(f"nothing listens on port {port}")


def holds(pid: int, target: str) -> bool:
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:  # closed meanwhile
            continue
    return False


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # ended; only its parent's wait is missing


@contextmanager
def paused(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_several_workers_share_the_port_each_answers_and_sigterm_stops_them_all(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, WEB_CONCURRENCY="2") as (supervisor, line, port):
        assert line.startswith("Serving on")
        sockets = listening_socket(port)
        workers = {pid for pid in children(supervisor.pid) if holds(pid, sockets)}
        assert len(workers) == 2, workers
        everything = children(supervisor.pid)  # the workers, and multiprocessing's helper
        answered = []
        # Each worker alone: with the other paused it cannot accept, so the one left must.
        # The supervisor pauses too, or its health check would replace a paused worker.
        with paused(supervisor.pid):
            for worker in workers:
                with paused(worker):
                    answered.append(healthz(port))

        supervisor.send_signal(signal.SIGTERM)
        _, log = supervisor.communicate(timeout=60)

    assert answered == [200, 200]
    assert supervisor.returncode == 0
    deadline = time.monotonic() + 30
    while not all(gone(pid) for pid in everything):
        assert time.monotonic() < deadline, [pid for pid in everything if not gone(pid)]
        time.sleep(0.05)
    assert "Traceback" not in log


def test_workers_that_cannot_load_the_app_stop_it_before_it_says_it_serves(
    tmp_path: Path,
) -> None:
    # A level the logging configuration refuses: the settings load (the supervisor reads
    # them), the app does not (Django configures logging as it loads).
    result = subprocess.run(
        serve_command(free_port()),
        cwd=BASE_DIR,
        env=env_for(tmp_path) | {"WEB_CONCURRENCY": "2", "LOG_LEVEL": "LOUD"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 1
    assert "Serving on" not in result.stdout
    assert "Unknown level: 'LOUD'" in result.stderr
    assert result.stderr.count("Started server process") == 0


def test_with_the_task_worker_it_runs_db_worker_beside_the_server_and_stops_both(
    tmp_path: Path,
) -> None:
    env = env_for(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE_DIR, env=env, check=True
    )
    port = free_port()
    command = [*serve_command(port), "--with-task-worker"]
    server = subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout.readline().startswith("Serving on")
        deadline = time.monotonic() + 60
        while not (worker := _db_worker(children(server.pid))):
            assert time.monotonic() < deadline, "no db_worker child within 60 s"
            time.sleep(0.1)
        assert healthz(port) == 200
        server.send_signal(signal.SIGTERM)
        _, log = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()

    assert server.returncode == 0
    deadline = time.monotonic() + 30
    while not gone(worker):
        assert time.monotonic() < deadline, "db_worker outlived the server"
        time.sleep(0.05)
    assert "Traceback" not in log


def _db_worker(pids: set[int]) -> int | None:
    for pid in pids:
        try:
            if b"db_worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    return None
