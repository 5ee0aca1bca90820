"""Whether this process can reach its database, asked with a deadline of its own."""

from __future__ import annotations

from django.db import OperationalError, connection


def reach_database(seconds: float) -> None:
    """Return once the database has answered a SELECT 1; raise a DatabaseError when it
    cannot within `seconds`. Through Django, PostgreSQL's pool would wait its whole
    timeout (30 s) for a connection that cannot be made, so the pool is asked directly.
    SQLite, a file, answers or fails at once (its busy timeout aside: a SELECT waits on
    no writer in WAL mode)."""
    pool = getattr(connection, "pool", None)
    if pool is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return
    # Imported here: PostgreSQL's backend has loaded it already, and a worker on SQLite
    # is spared its ~9 MB (libpq and its own OpenSSL).
    import psycopg

    try:
        pool.open(wait=False)
        with pool.connection(timeout=seconds) as pooled:
            pooled.execute("SELECT 1").fetchone()
    except psycopg.Error as error:
        raise OperationalError(str(error)) from error
