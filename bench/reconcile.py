"""Ledger speed: `gridledger reconcile` and the trial balance on the shared dataset.

    .venv/bin/python bench/reconcile.py [--source gridledger_bench_proj]
                                        [--copy gridledger_bench_ledger] [--keep]

1. Copies the shared dataset (`CREATE DATABASE copy TEMPLATE source`; nobody may be
   connected to the source meanwhile) and brings the projections the ledger reads
   (points, points_rules, jurisdictions) from zero in the copy.
2. Reconciles every community (every check and every anomaly, as the command does):
   seconds and events/s (events in the store over seconds), then as of the middle of
   the recorded period.
3. The trial balance of the whole district, current and as of that middle moment, per
   account and per type: the median of 5 runs each (ms).

Drops the copy at the end unless --keep. Uses GRIDLEDGER_BENCH_DATABASE_URL's server if
set, else the embedded one. Run from the repository root.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Callable
from functools import partial

import psycopg
from _db import drop_database, fresh_database, one_row

from api.runtime.database import library_env
from domain.application import Governance
from projections.analysis.reconcile import Options, reconcile
from projections.analysis.trial_balance import trial_balance
from projections.engine.rebuild import rebuild_all
from projections.store.events import max_position
from projections.views.jurisdictions import Jurisdictions
from projections.views.points import PointsProjection, PointsRulesProjection


def catch_up(url: str) -> float:
    """Rebuild what the ledger reads from zero (the shared dataset may hold only events,
    or projections some earlier run left at any position)."""
    app = Governance(env=library_env(url))
    projections = [Jurisdictions(), PointsProjection(), PointsRulesProjection()]
    started = time.perf_counter()
    try:
        rebuild_all(url, app.mapper, projections, batch_size=25_000, workers=2)
    finally:
        app.close()
    return time.perf_counter() - started


def median_ms(run: Callable[[], object], times: int = 5) -> float:
    laps = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        laps.append((time.perf_counter() - started) * 1000)
    return statistics.median(laps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="gridledger_bench_proj")
    parser.add_argument("--copy", default="gridledger_bench_ledger")
    parser.add_argument("--keep", action="store_true", help="Keep the copy afterwards.")
    args = parser.parse_args()
    url = fresh_database(args.copy, args.source)
    try:
        print(f"copied {args.source} to {args.copy}")
        print(f"projections points, points_rules, jurisdictions rebuilt in {catch_up(url):.1f}s")
        with psycopg.connect(url, autocommit=True) as conn:
            events = one_row(conn.execute("SELECT count(*) FROM governance_events"))[0]
            first, last = one_row(
                conn.execute("SELECT min(recorded_at), max(recorded_at) FROM points_ledger")
            )
            middle = first + (last - first) / 2
            print(f"{events:,} events (head {max_position(conn):,}); ledger {first} .. {last}")
            for label, as_of in (("every community", None), (f"as of {middle}", middle)):
                report = reconcile(conn, Options(as_of=as_of))
                kinds = Counter(a.kind for a in report.anomalies)
                print(
                    f"reconcile {label}: {report.seconds:.1f}s, "
                    f"{events / report.seconds:,.0f} events/s; {report.counts}; "
                    f"{len(report.findings)} inconsistencies; anomalies {dict(kinds)}"
                )
            for detail in ("account", "type"):
                for label, as_of in (("current", None), ("as of the middle", middle)):
                    tb = trial_balance(conn, None, as_of, detail)
                    ms = median_ms(partial(trial_balance, conn, None, as_of, detail))
                    print(
                        f"trial balance, whole district, {label}, per {detail}: {ms:.0f} ms "
                        f"(median of 5; {len(tb.accounts):,} lines, {tb.postings:,} postings, "
                        f"total {tb.balance})"
                    )
    finally:
        if not args.keep:
            drop_database(args.copy)
            print(f"dropped {args.copy}")


if __name__ == "__main__":
    main()
