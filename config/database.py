"""Whether this process can reach its database, asked with a deadline of its own."""

from __future__ import annotations

import psycopg
from django.db import DatabaseError, connection

# What reach_database raises when the database does not answer.
UNREACHABLE = (DatabaseError, psycopg.Error)


def reach_database(seconds: float) -> None:
    """Return once the database has answered a SELECT 1; raise one of UNREACHABLE when it
    cannot within `seconds`. Through Django, PostgreSQL's pool would wait its whole
    timeout (30 s) for a connection that cannot be made, so the pool is asked directly."""
    pool = getattr(connection, "pool", None)
    if pool is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return
    pool.open(wait=False)
    with pool.connection(timeout=seconds) as pooled:
        pooled.execute("SELECT 1").fetchone()
