"""Serve the app for `make run`: `python -m config.serve --host HOST --port PORT`.

The port is bound and the app loaded before the address is printed, so "Serving on …"
appears only once the server listens; uvicorn then serves the socket it is handed (and
logs no address of its own). A port that cannot be bound is one sentence saying what to
run instead, not uvicorn's bare OSError after the app has loaded.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys

import uvicorn

# uvicorn's own default backlog.
BACKLOG = 2048


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        listener = bind(args.host, args.port)
    except ServeError as error:
        print(error.user_message, file=sys.stderr)
        return 1
    config = uvicorn.Config("config.asgi:application", lifespan="off")
    config.load()  # Django's setup: a broken configuration stops here, before the address
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Serving on http://{host}:{args.port}/ (Ctrl+C stops)", flush=True)
    uvicorn.Server(config).run(sockets=[listener])
    return 0


if __name__ == "__main__":
    sys.exit(main())
