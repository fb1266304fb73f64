"""`rebuild --verify`: rebuild projections into shadow generations and compare.

Each projection is rebuilt from zero into a `building` generation that is never
activated, brought to exactly the position of the live (active) generation, and its
tables are compared with the live ones by checksum; where they differ, the rows are
compared in primary-key order to name the first differing key. The shadow tables and
their `projection_state` rows are dropped afterwards, whatever happened.

The live generation goes on following the log meanwhile. The bulk of the shadow is
built up to where the live generations stood at the start; then, for each projection
in turn, its live state row is locked (the runner locks it for every page, so the live
tables stand still), the shadow is caught up to the live position, and the tables are
compared inside that transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import Mapper
from psycopg import sql

from projections.engine import tracking
from projections.engine.batch import Projection, physical
from projections.engine.rebuild import build_into, checksums, create_generations
from projections.engine.runner import Runner, Target


@dataclass(frozen=True)
class Difference:
    projection: str
    table: str | None
    """The base table that differs (None: the projection as a whole, see `detail`)."""
    detail: str
    first_key: dict[str, Any] | None = None
    """The primary key of the first row (in key order) that differs, if any."""

    def __str__(self) -> str:
        where = f"{self.projection}.{self.table}" if self.table else self.projection
        key = ""
        if self.first_key is not None:
            key = " first differing key " + ", ".join(f"{k}={v}" for k, v in self.first_key.items())
        return f"{where}: {self.detail}{key}"


def verify_rebuild(
    url: str,
    mapper: Mapper[Any],
    projections: Sequence[Projection],
    *,
    batch_size: int = 2000,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[Difference]:
    """Rebuild `projections` into shadow generations and answer how they differ from
    the live ones (nothing: the live tables are what the log says)."""
    with psycopg.connect(url) as conn:
        live = {p.name: tracking.current(conn, p.name) for p in projections}
    differences = [
        Difference(name, None, "has no live generation to compare with")
        for name, state in live.items()
        if state is None
    ]
    compared = [p for p in projections if live[p.name] is not None]
    if not compared:
        return differences
    start = min(state.position for state in live.values() if state is not None)
    shadows = create_generations(url, compared)
    try:
        build_into(url, mapper, compared, shadows, batch_size, progress, workers, start)
        for projection in compared:
            differences += _compare(url, mapper, projection, shadows[projection.name], batch_size)
    finally:
        _drop(url, compared, shadows)
    return differences


def _compare(
    url: str, mapper: Mapper[Any], projection: Projection, shadow: int, batch_size: int
) -> list[Difference]:
    name = projection.name
    with psycopg.connect(url) as conn, conn.transaction():
        row = conn.execute(
            "SELECT generation, position, status FROM projection_state WHERE name = %s"
            " AND status IN ('active', 'failed') FOR UPDATE",
            (name,),
        ).fetchone()
        if row is None:
            return [Difference(name, None, "its live generation went away meanwhile")]
        generation, position, status = int(row[0]), int(row[1]), str(row[2])
        runner = Runner(url, mapper, [Target(projection, shadow)], batch_size=batch_size)
        try:
            runner.run_until_caught_up(until=position)
        finally:
            runner.close()
        (state,) = [s for s in tracking.states(conn, [name]) if s.generation == shadow]
        if state.status == "failed":
            return [Difference(name, None, f"the rebuild failed: {state.error}")]
        if state.position != position:
            return [Difference(name, None, f"rebuilt to {state.position}, live at {position}")]
        found = []
        if status == "failed":
            found.append(Difference(name, None, "the live generation has failed"))
        ours, theirs = checksums(conn, projection, generation), checksums(conn, projection, shadow)
        for base in projection.tables:
            if ours[base] != theirs[base]:
                live_table, shadow_table = physical(base, generation), physical(base, shadow)
                detail = f"{ours[base][0]} live rows ({live_table}), {theirs[base][0]} rebuilt rows"
                key = first_difference(conn, live_table, shadow_table)
                found.append(Difference(name, base, detail, key))
        return found


def primary_key(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = %s::regclass AND i.indisprimary"
        " ORDER BY array_position(i.indkey::int2[], a.attnum)",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def first_difference(conn: psycopg.Connection[Any], left: str, right: str) -> dict[str, Any] | None:
    """The primary key (lowest first) of the first row that is in one table and not
    the other, or differs between them; None if they hold the same rows."""
    key = primary_key(conn, left)
    if not key:
        return None
    columns = sql.SQL(", ").join(sql.Identifier(k) for k in key)
    statement = sql.SQL(
        "SELECT {cols} FROM (SELECT {cols}, md5(t::text) AS h FROM {l} AS t) AS a"
        " FULL JOIN (SELECT {cols}, md5(t::text) AS h FROM {r} AS t) AS b USING ({cols})"
        " WHERE a.h IS DISTINCT FROM b.h ORDER BY {cols} LIMIT 1"
    ).format(cols=columns, l=sql.Identifier(left), r=sql.Identifier(right))
    row = conn.execute(statement).fetchone()
    return None if row is None else dict(zip(key, row, strict=True))


def _drop(url: str, projections: Sequence[Projection], shadows: dict[str, int]) -> None:
    """Drop the shadow tables and state rows (including any a failed build left)."""
    with psycopg.connect(url) as conn, conn.transaction():
        for projection in projections:
            generation = shadows[projection.name]
            tracking.drop_tables(conn, projection, generation)
            conn.execute(
                "DELETE FROM projection_state WHERE name = %s AND generation = %s"
                " AND status <> 'active'",
                (projection.name, generation),
            )
