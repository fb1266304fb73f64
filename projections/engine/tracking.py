"""Where each projection stands: its generations, their positions, and failures.

`projection_state` has one row per generation of a projection. Exactly one generation
is `active` (its tables are behind the reader views); a rebuild writes a `building`
generation from zero and, once caught up, makes it active in one transaction, retiring
(and dropping) the old one. A generation that meets an event it cannot apply is
`failed`, with the position and the error; it stops there and the others go on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from projections.engine.batch import Projection, physical

DDL = (
    "CREATE TABLE IF NOT EXISTS projection_state ("
    " name text NOT NULL, generation int NOT NULL, schema_version int NOT NULL,"
    " status text NOT NULL CHECK (status IN ('active', 'building', 'failed', 'retired')),"
    " position bigint NOT NULL DEFAULT 0, error text, error_position bigint,"
    " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (name, generation))",
    "CREATE UNIQUE INDEX IF NOT EXISTS projection_state_one_active"
    " ON projection_state (name) WHERE status = 'active'",
)
"""The DDL of this module's tables (idempotent), applied by `migrate` (see
`projections.registry.SCHEMA`)."""


@dataclass(frozen=True)
class State:
    name: str
    generation: int
    schema_version: int
    status: str
    position: int
    error: str | None
    error_position: int | None


_STATES = sql.SQL(
    "SELECT name, generation, schema_version, status, position, error, error_position"
    " FROM projection_state"
)


def states(conn: psycopg.Connection[Any], names: Sequence[str] | None = None) -> list[State]:
    if names is None:
        rows = conn.execute(_STATES + sql.SQL(" ORDER BY name, generation")).fetchall()
    else:
        rows = conn.execute(
            _STATES + sql.SQL(" WHERE name = ANY(%s) ORDER BY name, generation"), (list(names),)
        ).fetchall()
    return [State(*row) for row in rows]


def current(conn: psycopg.Connection[Any], name: str) -> State | None:
    """The generation serving readers (active), or the failed one that stopped it."""
    for state in reversed(states(conn, [name])):
        if state.status in ("active", "failed"):
            return state
    return None


def create_generation(conn: psycopg.Connection[Any], projection: Projection, status: str) -> int:
    """Create a new generation's tables and state row; answer its number. A generation
    being built gets its secondary indexes once it has loaded its rows (at the end of
    its build, or when it is activated): building them once over the loaded rows is
    cheaper than maintaining them row by row."""
    row = conn.execute(
        "SELECT coalesce(max(generation), 0) + 1 FROM projection_state WHERE name = %s",
        (projection.name,),
    ).fetchone()
    generation = int(row[0]) if row else 1
    for statement in projection.ddl(generation):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO projection_state (name, generation, schema_version, status)"
        " VALUES (%s, %s, %s, %s)",
        (projection.name, generation, projection.schema_version, status),
    )
    if status == "active":
        create_indexes(conn, projection, generation)
        point_views(conn, projection, generation)
    return generation


def create_indexes(conn: psycopg.Connection[Any], projection: Projection, generation: int) -> None:
    for statement in projection.index_ddl(generation):
        conn.execute(statement)


def point_views(conn: psycopg.Connection[Any], projection: Projection, generation: int) -> None:
    for base in projection.tables:
        conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(base)))
        conn.execute(
            sql.SQL("CREATE VIEW {} AS SELECT * FROM {}").format(
                sql.Identifier(base), sql.Identifier(physical(base, generation))
            )
        )


def activate(conn: psycopg.Connection[Any], projection: Projection, generation: int) -> None:
    """Make `generation` the one readers see (with its indexes); retire and drop the one
    before it. (A generation that failed never gets here: `rebuild.build_into` refuses
    it.)"""
    create_indexes(conn, projection, generation)
    old = conn.execute(
        "SELECT generation FROM projection_state WHERE name = %s AND status IN"
        " ('active', 'failed') AND generation <> %s FOR UPDATE",
        (projection.name, generation),
    ).fetchall()
    conn.execute(
        "UPDATE projection_state SET status = 'retired', updated_at = now()"
        " WHERE name = %s AND generation <> %s AND status IN ('active', 'failed')",
        (projection.name, generation),
    )
    conn.execute(
        "UPDATE projection_state SET status = 'active', updated_at = now()"
        " WHERE name = %s AND generation = %s",
        (projection.name, generation),
    )
    point_views(conn, projection, generation)
    for (retired,) in old:
        drop_tables(conn, projection, retired)


def drop_tables(conn: psycopg.Connection[Any], projection: Projection, generation: int) -> None:
    """Drop a generation's tables (a retired or a shadow one; never the active one)."""
    for base in projection.tables:
        conn.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(physical(base, generation)))
        )


def ensure(conn: psycopg.Connection[Any], projection: Projection) -> State:
    """The projection's current generation, creating generation 1 on first use."""
    state = current(conn, projection.name)
    if state is None:
        create_generation(conn, projection, "active")
        state = current(conn, projection.name)
        assert state is not None
    return state


def positions(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """The position of each projection's active generation."""
    found = conn.execute(
        "SELECT name, position FROM projection_state WHERE status = 'active'"
    ).fetchall()
    return {name: int(position) for name, position in found}


def reached(conn: psycopg.Connection[Any], names: Sequence[str]) -> int | None:
    """The least position of the active generations of `names` (None: one has none)."""
    row = conn.execute(
        "SELECT count(*), min(position) FROM projection_state"
        " WHERE name = ANY(%s) AND status = 'active'",
        (list(names),),
    ).fetchone()
    assert row is not None
    return int(row[1]) if row[0] == len(set(names)) else None


def wait_for(
    url_or_conn: str | psycopg.Connection[Any],
    names: Sequence[str],
    position: int,
    timeout: float,
    poll: float = 0.002,
) -> bool:
    """Wait until every named projection has reached `position`; False on timeout."""
    deadline = time.monotonic() + timeout
    conn = (
        psycopg.connect(url_or_conn, autocommit=True)
        if isinstance(url_or_conn, str)
        else url_or_conn
    )
    try:
        while True:
            at = reached(conn, names)
            if at is not None and at >= position:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)
    finally:
        if isinstance(url_or_conn, str):
            conn.close()
