"""Scorecard latency (p50/p99) per subtree level and for a worker, now and as of a past
moment; and the `assessments` projection's rebuild cost per handled event.

Run from the repository root on a COPY of a dataset (never the shared one itself):

    GRIDLEDGER_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/assessments.py --database my_copy [--calls 50]

It first rebuilds the `assessments` projection in that database (the `points`
projection must be active there already: the points figures read its postings).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._db import database_url, one_row
from projections.analysis.scorecards import (
    Period,
    jurisdiction_scorecard,
    path_of,
    worker_scorecard,
)
from projections.engine.rebuild import event_mapper, handled_count, rebuild_all, topic_counts
from projections.views.assessments import Assessments


def _times(call: Callable[[], object], calls: int) -> tuple[float, float]:
    call()  # warm
    spent = []
    for _ in range(calls):
        began = time.perf_counter()
        call()
        spent.append((time.perf_counter() - began) * 1000)
    spent.sort()
    return statistics.median(spent), spent[min(len(spent) - 1, int(len(spent) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True, help="a copy of the dataset")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--skip-rebuild", action="store_true")
    parser.add_argument(
        "--no-spares", action="store_true", help="every query on one connection, one by one"
    )
    args = parser.parse_args()
    url = database_url(args.database)
    if not args.skip_rebuild:
        rebuild(url)
    spares = [psycopg.connect(url, autocommit=True) for _ in range(0 if args.no_spares else 2)]
    with psycopg.connect(url, autocommit=True) as conn:  # each call its own transaction
        conn.execute("ANALYZE")
        print(f"scorecards on one connection{' and two spares (as the API)' if spares else ''}")
        first, last, codes, worker = subjects(conn)
        end = min(last, first + timedelta(days=365))
        now = datetime.now(UTC)
        past = first + (end - first) * 0.75
        describe(conn, args.database, first, last, end, past)
        for label, as_of in (("now", None), ("as_of", past)):
            period = Period(first, end, as_of)
            time_scorecards(conn, label, period, now, codes, worker, spares, args.calls)


def rebuild(url: str) -> None:
    projection = Assessments()
    with psycopg.connect(url) as conn:
        handled = handled_count(projection, topic_counts(conn))
    began = time.perf_counter()
    rebuild_all(url, event_mapper(), [projection], batch_size=25_000)
    seconds = time.perf_counter() - began
    print(
        f"rebuild assessments: {handled:,} handled events in {seconds:.1f}s ="
        f" {seconds * 1e6 / max(handled, 1):,.1f} µs per handled event"
    )


def subjects(conn: psycopg.Connection[Any]) -> tuple[datetime, datetime, dict[str, str], str]:
    """The dataset's first and last report, a jurisdiction of each kind, the busiest worker."""
    first, last = one_row(
        conn.execute("SELECT min(reported_at), max(reported_at) FROM assessment_tickets")
    )
    district = one_row(
        conn.execute(
            "SELECT code FROM assessment_paths WHERE kind = 'district' ORDER BY code LIMIT 1"
        )
    )[0]
    codes = {"district": district}
    for kind in ("street", "community", "grid"):
        codes[kind] = one_row(
            conn.execute(
                "SELECT code FROM assessment_paths WHERE kind = %s AND path @> ARRAY[%s]"
                " ORDER BY code LIMIT 1",
                (kind, district),
            )
        )[0]
    worker = one_row(
        conn.execute(
            "SELECT h FROM assessment_tickets, unnest(handlers) h WHERE valid_to IS NULL"
            " AND h ~ '^[0-9a-f-]{36}$' GROUP BY h ORDER BY count(*) DESC LIMIT 1"
        )
    )[0]
    return first, last, codes, worker


def describe(
    conn: psycopg.Connection[Any],
    database: str,
    first: datetime,
    last: datetime,
    end: datetime,
    past: datetime,
) -> None:
    events = one_row(conn.execute("SELECT max(notification_id) FROM governance_events"))
    tickets, versions = one_row(
        conn.execute(
            "SELECT count(*) FILTER (WHERE valid_to IS NULL), count(*) FROM assessment_tickets"
        )
    )
    print(
        f"dataset {database}: {events[0]:,} events, {tickets:,} tickets"
        f" ({versions:,} ticket versions), reported {first:%Y-%m-%d} .. {last:%Y-%m-%d}"
    )
    print(
        f"period [{first:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) ({(end - first).days} days);"
        f" as_of {past:%Y-%m-%d %H:%M}"
    )


def time_scorecards(
    conn: psycopg.Connection[Any],
    label: str,
    period: Period,
    now: datetime,
    codes: dict[str, str],
    worker: str,
    spares: list[psycopg.Connection[Any]],
    calls: int,
) -> None:
    for kind, code in codes.items():
        found = path_of(conn, code)
        assert found is not None
        p50, p99 = _times(
            partial(jurisdiction_scorecard, conn, code, found[0], found[1], period, now, spares),
            calls,
        )
        card = jurisdiction_scorecard(conn, code, found[0], found[1], period, now)
        print(
            f"{label:5} {kind:9} {code:14} {card['tickets']['received']:7,} tickets:"
            f" p50 {p50:6.1f} ms, p99 {p99:6.1f} ms"
        )
    p50, p99 = _times(partial(worker_scorecard, conn, worker, None, period, now), calls)
    card = worker_scorecard(conn, worker, None, period, now)
    print(
        f"{label:5} worker    {worker[:14]} {card['tickets']['received']:7,} tickets:"
        f" p50 {p50:6.1f} ms, p99 {p99:6.1f} ms"
    )


if __name__ == "__main__":
    main()
