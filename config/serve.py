"""Serve the app for `make run` and the Docker image, with WEB_CONCURRENCY workers.

`python -m config.serve --host HOST --port PORT`. The port is bound first, so a port that
cannot be bound is one sentence saying what to run instead, not uvicorn's bare OSError
after the app has loaded. Then the settings are read (a broken one stops here; the
worker count is among them), and "Serving on …" is printed only once the server serves:
with one worker, once this process has loaded the app; with several, once every worker
has loaded it. The workers are uvicorn's supervisor's: they share the one socket, one that
dies is replaced, and Ctrl+C or SIGTERM stops them all. The supervisor itself never loads
the app: its copy (about 90 MB) would serve nothing. uvicorn serves the socket it is
handed, so it logs no address of its own. With --with-task-worker (`make run`) it also
runs `manage.py db_worker` beside them, which drains the background tasks' queue (the
Docker setup runs that worker as a service of its own), and stops it with the server.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import uvicorn
from django.conf import settings
from uvicorn.supervisors import Multiprocess

APP = "config.asgi:application"
# uvicorn's own default backlog.
BACKLOG = 2048
# Loading the app takes a few seconds; a worker still not serving after this is given up.
WORKER_START_SECONDS = 120
# On SIGTERM, the connections still streaming get this long to end; then the answers still
# running are saved, interrupted (config.asgi's lifespan). `docker stop` kills at 10 s.
GRACEFUL_SHUTDOWN_SECONDS = 5
MANAGE = Path(__file__).resolve().parents[1] / "manage.py"


class ServeError(Exception):
    def __init__(self, user_message: str) -> None:
        self.user_message = user_message
        super().__init__(user_message)


def bind(host: str, port: int) -> socket.socket:
    """A socket listening on host:port; ServeError saying why when it cannot be had."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    # As uvicorn does: a restart may rebind while the last run's connections wind down.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(BACKLOG)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise ServeError(f"Port {port} is in use; run `make run PORT={port + 1}`.") from None
        raise ServeError(f"Cannot serve on {host}:{port}: {error.strerror}.") from None
    return listener


class Workers(Multiprocess):
    """uvicorn's supervisor, calling `on_serving` once every worker serves.

    Without the wait, a worker that cannot load the app would exit, be replaced and fail
    again, forever: here it stops them all, and nothing says the app is served.
    """

    def __init__(
        self, config: uvicorn.Config, listener: socket.socket, on_serving: Callable[[], None]
    ) -> None:
        super().__init__(config, sockets=[listener])
        self.on_serving = on_serving
        self.served = False

    def init_processes(self) -> None:
        super().init_processes()
        for worker in self.processes:
            # uvicorn's own readiness check (its SIGHUP restart uses it): the worker's
            # server has started, its app loaded.
            if not worker.wait_until_ready(WORKER_START_SECONDS, self.should_exit):
                self.should_exit.set()  # run() then stops and joins every worker
                return
        self.served = True
        self.on_serving()


def start_task_worker() -> subprocess.Popen:
    """`manage.py db_worker`, which runs the queued background tasks (a gateway sync)."""
    command = [sys.executable, str(MANAGE), "db_worker", "--no-reload"]
    return subprocess.Popen(command)  # noqa: S603 - this interpreter, our manage.py


def stop_task_worker(worker: subprocess.Popen) -> None:
    worker.terminate()  # it finishes the task at hand, then exits
    try:
        worker.wait(timeout=GRACEFUL_SHUTDOWN_SECONDS)
    except subprocess.TimeoutExpired:
        worker.kill()  # the task's run is then given up as abandoned (gateways.runs)
        worker.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--with-task-worker",
        action="store_true",
        help="also run the background tasks' worker (manage.py db_worker) until the server stops",
    )
    args = parser.parse_args(argv)
    try:
        listener = bind(args.host, args.port)
    except ServeError as error:
        print(error.user_message, file=sys.stderr)
        return 1
    worker = start_task_worker() if args.with_task_worker else None
    try:
        return serve(args, listener)
    finally:
        if worker is not None:
            stop_task_worker(worker)


def serve(args: argparse.Namespace, listener: socket.socket) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    workers = settings.WEB_CONCURRENCY  # the settings load here: a broken one stops here
    config = uvicorn.Config(
        APP, lifespan="on", workers=workers, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS
    )
    host = f"[{args.host}]" if ":" in args.host else args.host

    def say_where() -> None:
        print(f"Serving on http://{host}:{args.port}/ (Ctrl+C stops)", flush=True)

    if workers == 1:
        config.load()  # Django's setup: a broken app stops here, before the address
        say_where()
        uvicorn.Server(config).run(sockets=[listener])
        return 0
    supervisor = Workers(config, listener, on_serving=say_where)
    supervisor.run()
    return 0 if supervisor.served else 1


if __name__ == "__main__":
    sys.exit(main())
