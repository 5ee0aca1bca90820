"""Run one call from several threads at once, each on its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_at_once(call: Callable[[], object], *, times: int) -> list[BaseException]:
    """Start `times` threads calling `call` together; returns what they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(times)

    def worker() -> None:
        try:
            start.wait()  # released together, so the calls really overlap
            call()
        except BaseException as e:  # returned to the test, which asserts on it
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
