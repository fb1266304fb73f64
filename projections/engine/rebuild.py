"""Blue/green rebuilds and table checksums.

A rebuild writes a new generation of a projection's tables from position zero while
the active generation keeps serving readers; once it has caught up with the log it
becomes active in one transaction (the reader views switch) and the old tables are
dropped. Checksums compare two generations row by row, independent of row order.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import Mapper
from psycopg import sql

from projections.engine import tracking
from projections.engine.batch import Projection, physical
from projections.engine.runner import Runner, Target
from projections.store import keys
from projections.store.events import EVENTS


def rebuild(
    url: str,
    mapper: Mapper[Any],
    projection: Projection,
    *,
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
    activate: bool = True,
) -> int:
    """Rebuild `projection` from zero into a new generation, in this process; answer its
    number (`activate=False` leaves it `building`, beside the active one)."""
    generations = rebuild_all(
        url, mapper, [projection], batch_size=batch_size, progress=progress, activate=activate
    )
    return generations[projection.name]


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
    workers: int = 1,
    activate: bool = True,
) -> dict[str, int]:
    """Rebuild several projections from zero, then make every new generation active
    (`activate=False`: leave them `building`); answer the generations.

    With one worker, one pass over the log in this process (each event read and
    decoded once). With more, the projections are shared out among that many worker
    processes (by the events each handles, weighted), each making its own pass, so
    that Python's work and the database's overlap on several cores; the workers decode
    with `event_mapper()`, and the projections must be importable (they are pickled).
    If a worker fails, nothing is activated and the error is raised."""
    generations = create_generations(url, projections)
    build_into(
        url, mapper, projections, generations, batch_size, progress, workers, None, indexes=activate
    )
    if not activate:
        return generations
    with psycopg.connect(url) as conn, conn.transaction():
        for projection in projections:
            tracking.activate(conn, projection, generations[projection.name])
    return generations


def create_generations(url: str, projections: Sequence[Projection]) -> dict[str, int]:
    """A new, empty `building` generation of each projection, by name."""
    with psycopg.connect(url) as conn, conn.transaction():
        return {p.name: tracking.create_generation(conn, p, "building") for p in projections}


def build_into(
    url: str,
    mapper: Mapper[Any],
    projections: Sequence[Projection],
    generations: dict[str, int],
    batch_size: int,
    progress: Callable[[int], None] | None,
    workers: int,
    until: int | None,
    *,
    indexes: bool = False,
) -> None:
    """Build the given `building` generations from zero, up to the log's head or to
    position `until` (see `rebuild_all` for `workers`). `indexes`: then give each its
    secondary indexes (those it gets when activated), each worker those of its own
    projections as soon as it is done, while the others may still be building."""
    with psycopg.connect(url) as conn:
        groups = _share_out(conn, projections, workers)
    targets = [[Target(p, generations[p.name]) for p in group] for group in groups]
    if len(targets) == 1:
        _build(url, mapper, targets[0], batch_size, progress, until, indexes)
    else:
        _build_in_processes(url, targets, batch_size, progress, until, indexes)
    with psycopg.connect(url) as conn:
        _refuse_failed(conn, generations)


def _refuse_failed(conn: psycopg.Connection[Any], generations: dict[str, int]) -> None:
    """Raise if a generation stopped at an event it could not apply: a rebuild that
    failed must leave the active generations serving, never replace them."""
    failed = [
        f"{state.name} at position {state.error_position}: {state.error}"
        for state in tracking.states(conn, list(generations))
        if state.generation == generations[state.name] and state.status == "failed"
    ]
    if failed:
        raise RuntimeError(f"rebuild failed for {'; '.join(failed)}; nothing activated")


def event_mapper() -> Mapper[Any]:
    """The mapper that decodes Governance's stored events (it needs no database)."""
    from domain.application import Governance

    return Governance(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper


def _build(
    url: str,
    mapper: Mapper[Any],
    targets: list[Target],
    batch_size: int,
    progress: Callable[[int], None] | None,
    until: int | None = None,
    indexes: bool = False,
) -> None:
    runner = Runner(url, mapper, targets, batch_size=batch_size)
    try:
        runner.run_until_caught_up(progress, until)
        if indexes:
            for target in targets:
                assert target.generation is not None
                with runner.conn.transaction():
                    tracking.create_indexes(runner.conn, target.projection, target.generation)
    finally:
        runner.close()


def _share_out(
    conn: psycopg.Connection[Any], projections: Sequence[Projection], workers: int
) -> list[list[Projection]]:
    """At most `workers` groups with about as much work each: a projection's work is
    the events it handles times its `rebuild_weight`; the largest goes first, each to
    the group with the least work so far."""
    if workers <= 1 or len(projections) <= 1:
        return [list(projections)]
    counts = topic_counts(conn)
    load = {p.name: p.rebuild_weight * handled_count(p, counts) for p in projections}
    groups: list[list[Projection]] = [[] for _ in range(min(workers, len(projections)))]
    totals = [0.0] * len(groups)
    for projection in sorted(projections, key=lambda p: -load[p.name]):
        i = totals.index(min(totals))
        groups[i].append(projection)
        totals[i] += load[projection.name]
    return groups


def topic_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """How many events of each topic the log holds."""
    query = sql.SQL("SELECT topic, count(*) FROM {} GROUP BY topic")
    return dict(conn.execute(query.format(EVENTS)).fetchall())


def handled_count(projection: Projection, counts: dict[str, int]) -> int:
    """How many of the events counted by topic in `counts` `projection` handles."""
    handled = projection.handled()
    return sum(n for topic, n in counts.items() if handled is None or topic in handled)


def _build_in_processes(
    url: str,
    groups: list[list[Target]],
    batch_size: int,
    progress: Callable[[int], None] | None,
    until: int | None = None,
    indexes: bool = False,
) -> None:
    context = multiprocessing.get_context("spawn")
    reports: multiprocessing.Queue[tuple[int, int]] = context.Queue()
    processes = [
        context.Process(
            target=_worker,
            args=(url, group, batch_size, i, reports, until, indexes, keys.keyring().master),
            daemon=True,
        )
        for i, group in enumerate(groups)
    ]
    for process in processes:
        process.start()
    reached = [0] * len(processes)
    while any(process.is_alive() for process in processes):
        try:
            index, position = reports.get(timeout=0.2)
        except queue.Empty:
            continue
        reached[index] = position
        if progress is not None:
            progress(min(reached))
    for process in processes:
        process.join()
    failed = [i for i, process in enumerate(processes) if process.exitcode != 0]
    if failed:
        names = [t.projection.name for i in failed for t in groups[i]]
        raise RuntimeError(f"rebuild worker(s) failed for {', '.join(names)}; nothing activated")


def _worker(
    url: str,
    targets: list[Target],
    batch_size: int,
    index: int,
    reports: multiprocessing.Queue[tuple[int, int]],
    until: int | None = None,
    indexes: bool = False,
    master: bytes | None = None,
) -> None:
    keys.configure(master)  # a spawned process: the parent's keyring, not the environment's

    def progress(position: int) -> None:
        reports.put((index, position))

    _build(url, event_mapper(), targets, batch_size, progress, until, indexes)
