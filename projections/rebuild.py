"""Blue/green rebuilds and table checksums.

A rebuild writes a new generation of a projection's tables from position zero while
the active generation keeps serving readers; once it has caught up with the log it
becomes active in one transaction (the reader views switch) and the old tables are
dropped. Checksums compare two generations row by row, independent of row order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from eventsourcing.persistence import Mapper
from psycopg import sql

from projections import tracking
from projections.engine import Projection, physical
from projections.runner import Runner, Target


def rebuild(
    url: str,
    mapper: Mapper[Any],
    projection: Projection,
    *,
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
    activate: bool = True,
) -> int:
    """Rebuild `projection` from zero into a new generation; answer its number."""
    with psycopg.connect(url) as conn, conn.transaction():
        generation = tracking.create_generation(conn, projection, "building")
    runner = Runner(url, mapper, [Target(projection, generation)], batch_size=batch_size)
    try:
        runner.run_until_caught_up(progress)
    finally:
        runner.close()
    if activate:
        with psycopg.connect(url) as conn, conn.transaction():
            tracking.activate(conn, projection, generation)
    return generation


def table_checksum(conn: psycopg.Connection[Any], table: str) -> tuple[int, str]:
    """(row count, md5 over the sorted md5s of every row's text) of `table`."""
    row = conn.execute(
        sql.SQL(
            "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '')"
            " FROM (SELECT md5(t::text) AS h FROM {} AS t) AS rows"
        ).format(sql.Identifier(table))
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def checksums(
    conn: psycopg.Connection[Any], projection: Projection, generation: int
) -> dict[str, tuple[int, str]]:
    return {base: table_checksum(conn, physical(base, generation)) for base in projection.tables}


def rebuild_all(
    url: str,
    mapper: Mapper[Any],
    projections: list[Projection],
    *,
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Rebuild several projections in one pass over the log (each event read and
    decoded once), then make every new generation active; answer the generations."""
    generations = {}
    with psycopg.connect(url) as conn, conn.transaction():
        for projection in projections:
            generations[projection.name] = tracking.create_generation(conn, projection, "building")
    targets = [Target(p, generations[p.name]) for p in projections]
    runner = Runner(url, mapper, targets, batch_size=batch_size)
    try:
        runner.run_until_caught_up(progress)
    finally:
        runner.close()
    with psycopg.connect(url) as conn, conn.transaction():
        for projection in projections:
            tracking.activate(conn, projection, generations[projection.name])
    return generations
