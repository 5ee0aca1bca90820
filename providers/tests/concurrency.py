"""Run calls from several threads at once, each on its own database connection.

run_at_once releases identical calls together. race forces the interleaving that
exposes a missing lock: a call stops before a statement of the test's choosing (its
"hold") until every other call has reached its own hold, finished, or waits on a
database lock. Without the lock, both sides have read before either writes; with it,
the one that got it is never kept waiting on the one it holds up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

# Long enough for any loaded machine to arrange the race; reaching it is a failure.
ARRANGE_SECONDS = 60
# SQLite takes its one write lock at BEGIN IMMEDIATE or at the first write; WAL lets
# reads run beside it.
_SQLITE_WRITES = ("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE", "INSERT", "UPDATE", "DELETE", "REPLACE")


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


Hold = Callable[[str], bool]


def statement(prefix: str, *, nth: int = 1) -> Hold:
    """A hold at the nth statement (of one call) that starts with `prefix`."""
    seen = 0

    def hold(sql: str) -> bool:
        nonlocal seen
        seen += sql.startswith(prefix)
        return sql.startswith(prefix) and seen == nth

    return hold


@dataclass
class _Racer:
    call: Callable[[], object]
    hold: Hold | None
    backend_pid: int | None = None
    executing: str = ""  # the statement under way, "" between statements
    wrote: bool = False  # holds SQLite's write lock
    at_hold: bool = False
    done: bool = False
    error: BaseException | None = None


def race(*calls: tuple[Callable[[], object], Hold | None]) -> list[BaseException | None]:
    """Run each (call, hold) in its own thread and connection, all started together.

    A call with a hold stops before the first statement the hold picks until every
    other call has reached its hold, finished, or waits on a lock. Returns what each
    call raised (None: it returned).
    """
    racers = [_Racer(call, hold) for call, hold in calls]
    start = threading.Barrier(len(racers))

    def worker(racer: _Racer) -> None:
        try:
            with connection.execute_wrapper(_Watch(racer, racers)):
                start.wait()
                racer.call()
        except BaseException as e:  # returned to the test, which asserts on it
            racer.error = e
        finally:
            racer.done = True
            connection.close()

    threads = [threading.Thread(target=worker, args=(racer,)) for racer in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [racer.error for racer in racers]


class _Watch:
    """The execute wrapper of one racer: it notes what runs, and holds where asked."""

    def __init__(self, racer: _Racer, racers: list[_Racer]) -> None:
        self.racer = racer
        self.rivals = [other for other in racers if other is not racer]

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        racer = self.racer
        raw = context["connection"].connection  # the DB-API connection: no wrapper again
        if racer.backend_pid is None and connection.vendor == "postgresql":
            with raw.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                racer.backend_pid = cursor.fetchone()[0]
        if racer.hold and not racer.at_hold and racer.hold(sql):
            racer.at_hold = True
            self._wait_for_rivals(raw)
        racer.executing = sql
        try:
            result = execute(sql, params, many, context)
        finally:
            racer.executing = ""
        upper = sql.upper()
        if upper.startswith("BEGIN"):
            racer.wrote = upper.startswith(("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE"))
        elif context["connection"].in_atomic_block:
            racer.wrote = racer.wrote or upper.startswith(_SQLITE_WRITES)
        else:
            racer.wrote = False  # in autocommit the lock ended with the statement
        return result

    def _wait_for_rivals(self, raw: Any) -> None:
        deadline = time.monotonic() + ARRANGE_SECONDS
        while not all(r.done or r.at_hold or self._blocked(r, raw) for r in self.rivals):
            if time.monotonic() > deadline:
                raise AssertionError("The race could not be arranged: a rival never got there.")
            time.sleep(0.005)

    def _blocked(self, rival: _Racer, raw: Any) -> bool:
        """Whether `rival` waits on a lock this racer holds (or will, until it ends)."""
        if connection.vendor == "postgresql":
            if rival.backend_pid is None:
                return False
            with raw.cursor() as cursor:  # pg_locks is live, not the transaction's snapshot
                cursor.execute(
                    "SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted", [rival.backend_pid]
                )
                return cursor.fetchone() is not None
        # SQLite has one writer: while this racer holds the write lock, a rival's write
        # cannot finish before this racer's transaction ends.
        return self.racer.wrote and rival.executing.upper().startswith(_SQLITE_WRITES)
