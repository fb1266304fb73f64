"""What the deadline index costs to follow the log, per command.

    .venv/bin/python bench/deadlines.py [--tickets 1000] [--spread]

On a fresh database (bench/_db.py): a small tree, then `--tickets` tickets each
reported and accepted through `Governance`; then one `DeadlineIndex.catch_up()` over
them, timed (this process's CPU and the wall time, per command). By default a ticket's
report and its accept land in the same page of the index, as under a steady load;
`--spread` catches up after the reports and again after the accepts, as when a
ticket's events are far apart (the index then meets each accept alone). Uses
GRIDLEDGER_BENCH_DATABASE_URL's server if set, else the embedded one.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _db import fresh_database

from api.runtime.database import library_env
from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor
from projections.deadlines.index import DeadlineIndex

TREE = [
    ("D", "district", None),
    ("D-S", "street", "D"),
    ("D-S-C", "community", "D-S"),
    ("D-S-C-G", "grid", "D-S-C"),
]
TICKET: dict[str, Any] = {
    "category": "环境卫生",
    "description": "楼道堆物",
    "grid": "D-S-C-G",
    "source": "hotline",
}


def timed(index: DeadlineIndex) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one catch-up."""
    cpu, wall = time.process_time(), time.perf_counter()
    index.catch_up()
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--spread", action="store_true", help="catch up between the two commands")
    args = parser.parse_args()
    url = fresh_database("gridledger_bench_deadlines")
    governance = Governance(env=library_env(url))
    meta = Meta(actor=Actor("bench", "admin"))
    for code, kind, parent in TREE:
        governance.define_jurisdiction(meta, code=code, kind=kind, name=code, parent=parent)
    index = DeadlineIndex(url, governance)
    index.catch_up()
    tickets = [governance.report_ticket(meta, **TICKET).id for _ in range(args.tickets)]
    cpu, wall = timed(index) if args.spread else (0.0, 0.0)
    for ticket in tickets:
        governance.accept_ticket(meta, ticket)
    more_cpu, more_wall = timed(index)
    commands = 2 * args.tickets
    how = "after the reports, then after the accepts" if args.spread else "once, over both"
    print(
        f"deadline index catching up {commands:,} commands ({how}):"
        f" {(cpu + more_cpu) * 1000 / commands:.3f} ms CPU and"
        f" {(wall + more_wall) * 1000 / commands:.3f} ms wall per command"
    )
    index.close()
    governance.close()


if __name__ == "__main__":
    main()
