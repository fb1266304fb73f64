"""One snapshot of the query tables for a read made of several queries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

Connection = psycopg.Connection[Any]


@contextmanager
def one_snapshot(conn: Connection, spares: Sequence[Connection]) -> Iterator[list[Connection]]:
    """Run what follows in one REPEATABLE READ, READ ONLY snapshot of the tables, on
    `conn` (autocommit) and on the `spares` (autocommit connections of the same database,
    idle) that join it: every figure of a scorecard then reflects the same commits,
    whichever connection computed it. Answers the spares that joined."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        exported = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert exported is not None
        joined: list[Connection] = []
        try:
            for spare in spares:
                try:
                    spare.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    spare.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(exported[0]))
                except psycopg.OperationalError:  # a connection the server dropped
                    continue
                joined.append(spare)
            yield joined
        finally:
            for spare in joined:
                spare.execute("ROLLBACK")
