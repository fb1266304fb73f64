"""Projection throughput and freshness, measured in one run on one dataset.

    .venv/bin/python bench/projections.py [--events 1000000] [--library-seconds 60]
        [--live-seconds 30] [--workers 2] [--batch-size 25000] [--projections NAME...]
        [--rebuild-only | --live-only | --split] [--database NAME] [--checksums FILE]

1. Builds (or reuses) a simulated dataset of at least --events events through
   `Governance` (`gridledger simulate`'s generator): one district over consecutive
   months, in database gridledger_bench_proj.
2. Full rebuild of every projection (`rebuild_all`, shared out among --workers
   processes; events/s over the whole log), then the library's own
   `ProjectionRunner` (one transaction per event) on the same events, for a fixed time
   with the simplest possible projection (one row per event), in the same run.
3. Live lag at a steady 200 commands/s: a worker follows the log in this process; for
   each command, the time from its commit to the projections' position reaching it
   (p50/p99), and how long after that `wait_for` returns (p50/p99).

`--rebuild-only`: step 2's rebuild alone. `--live-only`: step 3 alone. `--split`: each
projection (or each of --projections) rebuilt alone by one worker in this process, with
its wall time, the Python share of it and the WAL it wrote.

Uses GRIDLEDGER_BENCH_DATABASE_URL's server if set, else the embedded one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from _db import ROOT, database_url, fresh_database, one_row
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection as LibraryProjection
from eventsourcing.projection import ProjectionRunner

from api.runtime.database import library_env
from api.simulation.simulate import SimClock, SimReport, simulate
from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor
from projections.engine import tracking
from projections.engine.rebuild import checksums, handled_count, rebuild_all, topic_counts
from projections.engine.runner import PageReport, Runner, Target
from projections.registry import all_projections
from projections.store.events import max_position

DATABASE = "gridledger_bench_proj"


class OneRowPerEvent(PostgresTrackingRecorder):
    """The library's pattern: a tracking recorder that owns one table."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.append(
            psycopg.sql.Composed(
                [
                    psycopg.sql.SQL(
                        "CREATE TABLE IF NOT EXISTS library_rows (position bigint PRIMARY KEY,"
                        " aggregate_id uuid, event_type text)"
                    )
                ]
            )
        )

    def insert_row(self, event: DomainEventProtocol[Any], tracking_: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO library_rows VALUES (%s, %s, %s)",
                (tracking_.notification_id, event.originator_id, type(event).__name__),
            )
            self._insert_tracking(curs, tracking_)


class LibraryRows(LibraryProjection[OneRowPerEvent]):
    name = "librarybench"

    def process_event(self, domain_event: Any, tracking_: Tracking) -> None:
        self.view.insert_row(domain_event, tracking_)


def dataset(events: int, database: str = DATABASE) -> str:
    url = database_url(database)
    try:
        with psycopg.connect(url) as conn:
            if max_position(conn) >= events:
                print(f"dataset: reusing {max_position(conn):,} events in {database}")
                return url
    except psycopg.Error:
        pass
    url = fresh_database(database)
    clock = SimClock(datetime(2026, 1, 1, tzinfo=UTC))
    governance = Governance(env=library_env(url), clock=clock)
    started = time.perf_counter()
    reported = [0]

    def progress(report: SimReport) -> None:
        if report.days_done % 30 == 0 and report.days_done != reported[0]:
            reported[0] = report.days_done
            print(f"  day {report.days_done}: {report.events:,} events")

    # One district over consecutive months (a district-year is about 800,000 events).
    months = max(1, -(-events // 62_000))
    report = simulate(governance, clock, scale="district", months=months, seed=1, progress=progress)
    with psycopg.connect(url) as conn:
        total = max_position(conn)
    seconds = time.perf_counter() - started
    print(
        f"dataset: one district over {months} months ({report.start} to {report.end}):"
        f" {total:,} events simulated in {seconds:.0f}s ({total / seconds:,.0f}/s)"
    )
    governance.close()
    if total < events:
        raise SystemExit(f"the simulation gave {total:,} events, fewer than {events:,}")
    return url


def bench_rebuild(
    url: str, workers: int, batch_size: int, names: list[str] | None, checksums_to: str | None
) -> float:
    governance = Governance(env=library_env(url))
    projections = [p for n, p in all_projections().items() if not names or n in names]
    with psycopg.connect(url) as conn:
        head = max_position(conn)
        counts = topic_counts(conn)
    started = time.perf_counter()
    built = rebuild_all(url, governance.mapper, projections, batch_size=batch_size, workers=workers)
    seconds = time.perf_counter() - started
    rate = head / seconds
    which = "all" if not names else "the"
    print(
        f"rebuild of {which} {len(projections)} projections"
        f" ({', '.join(p.name for p in projections)}) over {head:,} events,"
        f" {workers} worker(s), pages of {batch_size:,}: {seconds:.1f}s = {rate:,.0f} events/s"
    )
    if len(projections) == 1:  # the figure behind its rebuild_weight
        handled = handled_count(projections[0], counts)
        print(
            f"  {projections[0].name} handles {handled:,} of them:"
            f" {seconds * 1e6 / max(handled, 1):,.1f} µs per handled event"
        )
    if checksums_to:  # every table's rows, to compare the tables of two versions of the code
        with psycopg.connect(url) as conn:
            sums = {p.name: checksums(conn, p, built[p.name]) for p in projections}
        with open(checksums_to, "w") as out:
            json.dump(sums, out, indent=1, sort_keys=True)
        print(f"  checksums of {sum(len(t) for t in sums.values())} tables in {checksums_to}")
    governance.close()
    return rate


def bench_split(url: str, names: list[str] | None) -> None:
    """Each projection rebuilt alone, by one worker in this process: the wall time, this
    process's CPU (Python's share; the rest is PostgreSQL's, or waiting), and the WAL
    the rebuild wrote."""
    governance = Governance(env=library_env(url))
    lsn = "SELECT pg_current_wal_lsn()"
    for name, projection in all_projections().items():
        if names and name not in names:
            continue
        with psycopg.connect(url, autocommit=True) as conn:
            before = one_row(conn.execute(lsn))[0]
        wall, cpu = time.perf_counter(), time.process_time()
        rebuild_all(url, governance.mapper, [projection], batch_size=25_000, workers=1)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        with psycopg.connect(url, autocommit=True) as conn:
            wal = one_row(conn.execute("SELECT pg_current_wal_lsn() - %s::pg_lsn", (before,)))[0]
        print(
            f"{name:16} {wall:6.1f}s, of which Python {cpu:5.1f}s;"
            f" WAL {int(wal) / 2**20:6,.0f} MiB",
            flush=True,
        )
    governance.close()


def bench_library_runner(url: str, seconds: float) -> float:
    env = {**library_env(url, create_table=True), "LIBRARYBENCH_CREATE_TABLE": "y"}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS library_rows, librarybench_tracking")
    runner = ProjectionRunner(
        application_class=Governance,
        projection_class=LibraryRows,
        view_class=OneRowPerEvent,
        env=env,
    )
    with runner:
        time.sleep(seconds)
    with psycopg.connect(url) as conn:
        done = one_row(conn.execute("SELECT count(*) FROM library_rows"))[0]
    rate = done / seconds
    print(
        f"library ProjectionRunner, one row per event: {done:,} events in {seconds:.0f}s"
        f" = {rate:,.0f} events/s"
    )
    return rate


def bench_live(url: str, rate: float, seconds: float) -> None:
    governance = Governance(env=library_env(url))
    projections = list(all_projections().values())
    names = [p.name for p in projections]
    runner = Runner(url, governance.mapper, [Target(p) for p in projections], batch_size=1000)
    runner.run_until_caught_up()
    pages, read, cpu = [0], [0], [0.0]
    run_page = runner.run_page

    def counted(until: int | None = None) -> PageReport:
        report = run_page(until)
        if report.events:
            pages[0] += 1
            read[0] += report.events
        return report

    def follow() -> None:
        started = time.thread_time()
        runner.run_forever(idle_wait=1.0)
        cpu[0] = time.thread_time() - started

    runner.run_page = counted  # type: ignore[method-assign]  # count pages: a probe
    worker = threading.Thread(target=follow)
    worker.start()
    committed: dict[int, float] = {}
    visible: dict[int, float] = {}
    waited: list[tuple[float, int]] = []
    done = threading.Event()

    def watch() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not done.is_set():
                row = one_row(
                    conn.execute(
                        "SELECT min(position) FROM projection_state WHERE status = 'active'"
                        " AND name = ANY(%s)",
                        (names,),
                    )
                )
                now = time.perf_counter()
                pending = [p for p in list(committed) if p not in visible and p <= (row[0] or 0)]
                for position in pending:
                    visible[position] = now
                time.sleep(0.0005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    offer(governance, url, names, rate, seconds, committed, waited)
    time.sleep(0.5)
    done.set()
    watcher.join()
    runner.stop()
    worker.join()
    runner.close()
    print(
        f"runner: {pages[0]} pages of {read[0] / max(pages[0], 1):.1f} events on average,"
        f" {cpu[0] * 1000 / max(pages[0], 1):.2f} ms of its thread's CPU per page"
    )
    print_lags(rate, seconds, committed, visible, waited)
    governance.close()


def offer(
    governance: Governance,
    url: str,
    names: list[str],
    rate: float,
    seconds: float,
    committed: dict[int, float],
    waited: list[tuple[float, int]],
) -> None:
    """Report tickets at `rate`/s for `seconds`: each one's commit time into `committed`;
    every tenth waited for (`wait_for`), with the time the wait returned, into `waited`."""
    meta = Meta(actor=Actor("bench", "community_staff"))
    with psycopg.connect(url) as conn:
        grid = one_row(
            conn.execute("SELECT code FROM jurisdictions WHERE kind = 'grid' ORDER BY code LIMIT 1")
        )[0]
    interval = 1 / rate
    count = int(rate * seconds)
    next_at = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as waiter:
        for i in range(count):
            next_at += interval
            result = governance.report_ticket(
                meta, category="环境卫生", description=f"bench {i}", grid=grid, source="hotline"
            )
            committed[result.position] = time.perf_counter()
            if i % 10 == 0:
                tracking.wait_for(waiter, names, result.position, timeout=5)
                waited.append((time.perf_counter(), result.position))
            time.sleep(max(0.0, next_at - time.perf_counter()))


def print_lags(
    rate: float,
    seconds: float,
    committed: dict[int, float],
    visible: dict[int, float],
    waited: list[tuple[float, int]],
) -> None:
    lags = sorted((visible[p] - committed[p]) * 1000 for p in committed if p in visible)
    after = sorted(max(0.0, (t - visible[p]) * 1000) for t, p in waited if p in visible)
    print(
        f"live lag at {rate:.0f} commands/s for {seconds:.0f}s ({len(lags)} commands):"
        f" p50 {percentile(lags, 50):.1f} ms, p99 {percentile(lags, 99):.1f} ms"
    )
    print(
        f"wait_for returned after the position was reached: p50 {percentile(after, 50):.1f} ms,"
        f" p99 {percentile(after, 99):.1f} ms ({len(after)} waits)"
    )


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if p >= 100 or len(values) < 2:
        return max(values)
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--library-seconds", type=float, default=60)
    parser.add_argument("--live-seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2, help="rebuild worker processes")
    parser.add_argument("--batch-size", type=int, default=25_000, help="rebuild page size")
    parser.add_argument("--projections", nargs="*", help="rebuild only these (default: all)")
    parser.add_argument(
        "--rebuild-only", action="store_true", help="skip the library runner and live lag"
    )
    parser.add_argument(
        "--live-only", action="store_true", help="only the live lag (no rebuild, no library)"
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="only each projection rebuilt alone: wall time, Python's CPU, WAL written",
    )
    parser.add_argument("--database", default=DATABASE, help="the dataset's database")
    parser.add_argument(
        "--checksums", metavar="FILE", help="write every rebuilt table's checksum to FILE"
    )
    args = parser.parse_args()
    print(f"gridledger bench/projections.py at {datetime.now(UTC):%Y-%m-%d %H:%M}Z ({ROOT})")
    url = dataset(args.events, args.database)
    if args.live_only:
        bench_live(url, 200, args.live_seconds)
        return
    if args.split:
        bench_split(url, args.projections)
        return
    ours = bench_rebuild(url, args.workers, args.batch_size, args.projections, args.checksums)
    if args.rebuild_only:
        return
    library = bench_library_runner(url, args.library_seconds)
    print(f"=> rebuild is {ours / library:.1f}x the library runner's rate")
    bench_live(url, 200, args.live_seconds)


if __name__ == "__main__":
    main()
