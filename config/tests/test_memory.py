"""A worker's malloc arenas (config/memory.py), counted by glibc itself in a real process."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from config.memory import ARENAS
from config.tests.fresh_process import python_output

pytestmark = pytest.mark.skipif(
    not hasattr(ctypes.CDLL(None), "malloc_info"), reason="arenas are glibc's"
)

# Eight threads allocate at once, each while the others hold their arenas, then glibc's
# malloc_info() says how many heaps (arenas) the process has.
COUNT_ARENAS = """
import ctypes, sys, tempfile, threading
{load}
together = threading.Barrier(8)
kept = []

def allocate():
    together.wait()
    kept.append([bytes(2000) for _ in range(200)])  # past obmalloc's 512 bytes: malloc's

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile("r") as report:
    stream = ctypes.c_void_p(libc.fopen(report.name.encode(), b"w"))
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    print(report.read().count("<heap nr="))
"""


def arenas_after(load: str, tmp_path: Path, **env: str) -> int:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    environment |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **env}
    return int(python_output(COUNT_ARENAS.format(load=load), environment))


def test_a_worker_keeps_its_threads_to_two_arenas(tmp_path: Path) -> None:
    assert arenas_after("", tmp_path) > ARENAS  # glibc's own way: one per thread
    assert arenas_after("import config.asgi", tmp_path) == ARENAS


def test_malloc_arena_max_in_the_environment_wins(tmp_path: Path) -> None:
    assert arenas_after("import config.asgi", tmp_path, MALLOC_ARENA_MAX="3") == 3
