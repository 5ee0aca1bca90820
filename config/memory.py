"""glibc's malloc in a worker: two arenas, not one per thread.

glibc gives every thread that allocates an arena of its own, up to eight per core, and
a worker has several: the event loop's, its request threads (config/request_threads.py)
and the one the answers' database trips share. Objects made on one thread and freed on
another (a query's rows, read on a request thread and dropped on the loop) leave memory
free in every arena but unusable to the others. With two, the server's memory at 200
streams came 4 to 7 MB lower in each of four paired runs, 295 to 299 MB against 300 to
303 (bench/README.md). glibc reads MALLOC_ARENA_MAX from the environment when a process
starts: one set there wins.
"""

from __future__ import annotations

import ctypes
import os

ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas() -> None:
    """Cap this process's arenas at ARENAS, unless the environment says (glibc has read
    it) or the C library is not glibc."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None and "MALLOC_ARENA_MAX" not in os.environ:
        mallopt(M_ARENA_MAX, ARENAS)
