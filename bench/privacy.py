"""What sealing personal data costs (issue 16), sealed beside clear, in one run.

    .venv/bin/python bench/privacy.py [--ops 1000] [--rounds 5] [--months 1] [--repeats 2]

1. `register_member` commands per second through `Governance` with a key store
   (`PersonalData(PostgresKeyStore)`: name and phone sealed, keys made 64 at a time,
   wrapped under a master key) and without one (`personal=None`: the fields stored in
   clear; reachable only by constructing `Governance` so, never from settings), in
   interleaved rounds on two databases of the same server.
2. Rebuild rate (events/s) of the projections that open sealed fields (members,
   tickets) and of all projections, over two simulated logs of the same seed: one
   sealed, one clear (kept between runs, per month count); alternated, one worker,
   `--repeats` times each, the best of each (the machine is shared: the best run is
   the one least disturbed).

Each figure comes with the Python CPU time of this process per command or event
(`time.process_time`), the least over the rounds: on a machine shared with other work
it moves far less than wall time does (PostgreSQL's own work is not in it).

Uses GRIDLEDGER_BENCH_DATABASE_URL's server if set, else the embedded one.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from datetime import UTC, datetime

import psycopg
from _db import database_url, fresh_database

from api.runtime.database import library_env
from api.simulation.simulate import SimClock, simulate
from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor
from domain.personal_data import PersonalData
from projections.engine.rebuild import rebuild_all
from projections.registry import all_projections
from projections.store import keys

ADMIN = Meta(actor=Actor("bench-admin", "admin"))
SHAPES = {True: "sealed", False: "clear"}
BENCH_MASTER = hashlib.sha256(b"gridledger bench/privacy.py master key").digest()
"""A fixed master key, so that a sealed log kept from an earlier run still opens."""


def governance(url: str, sealed: bool, clock: SimClock | None = None) -> Governance:
    personal = PersonalData(keys.PostgresKeyStore(url)) if sealed else None
    if clock is None:
        return Governance(env=library_env(url), personal=personal)
    return Governance(env=library_env(url), clock=clock, personal=personal)


def bench_commands(ops: int, rounds: int) -> dict[bool, tuple[float, float]]:
    """Per shape: (the best round's commands/s, the least CPU µs of this process a
    command)."""
    apps = {s: governance(fresh_database(f"gridledger_bench_privacy_cmd_{SHAPES[s]}"), s)
            for s in SHAPES}  # fmt: skip
    for app in apps.values():
        app.define_jurisdiction(ADMIN, code="D", kind="district", name="D", parent=None)
        for i in range(200):  # warm both paths
            register(app, i)
    rates: dict[bool, list[tuple[float, float]]] = {s: [] for s in SHAPES}
    for r in range(rounds):
        for sealed in (True, False) if r % 2 == 0 else (False, True):
            cpu, started = time.process_time(), time.perf_counter()
            for i in range(ops):
                register(apps[sealed], i)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            rates[sealed].append((ops / wall, cpu * 1e6 / ops))
    for app in apps.values():
        app.close()
    return {s: (max(r for r, _ in v), min(c for _, c in v)) for s, v in rates.items()}


def register(app: Governance, i: int) -> None:
    app.register_member(
        ADMIN, name=f"王秀英{i}", phone=f"138{i:08d}", kind="resident", party_member=False,
        home_grid=None,
    )  # fmt: skip


def dataset(sealed: bool, months: int) -> str:
    name = f"gridledger_bench_privacy_log_{SHAPES[sealed]}_{months}"
    try:
        url = database_url(name)
        if head(url) > 0:
            print(f"  {SHAPES[sealed]} log: reusing {head(url):,} events in {name}")
            return url
    except psycopg.Error:
        pass
    url = fresh_database(name)
    clock = SimClock(datetime(2026, 1, 1, tzinfo=UTC))
    app = governance(url, sealed, clock)
    started = time.perf_counter()
    simulate(app, clock, scale="district", months=months, seed=1)
    app.close()
    events = head(url)
    print(f"  {SHAPES[sealed]} log: {events:,} events simulated in"
          f" {time.perf_counter() - started:.0f}s")  # fmt: skip
    return url


def head(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT max(notification_id) FROM governance_events").fetchone()
    return int(row[0] or 0) if row else 0


def bench_rebuild(
    urls: dict[bool, str], names: list[str] | None, repeats: int
) -> dict[bool, tuple[float, float]]:
    """Per shape: (the best rebuild's events/s, the least CPU µs of this process an
    event: the Python side, which waiting on PostgreSQL does not count)."""
    mapper = Governance(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper
    chosen = [p for n, p in all_projections().items() if names is None or n in names]
    rates: dict[bool, list[tuple[float, float]]] = {s: [] for s in SHAPES}
    for r in range(repeats):
        for sealed in (True, False) if r % 2 == 0 else (False, True):
            url = urls[sealed]
            cpu, started = time.process_time(), time.perf_counter()
            rebuild_all(url, mapper, chosen, batch_size=1000, workers=1)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            rates[sealed].append((head(url) / wall, cpu * 1e6 / head(url)))
    return {s: (max(r for r, _ in v), min(c for _, c in v)) for s, v in rates.items()}


def show(what: str, figures: dict[bool, tuple[float, float]], unit: str, per: str) -> None:
    (rate, cpu), (clear_rate, clear_cpu) = figures[True], figures[False]
    print(f"{what}: sealed {rate:,.0f} {unit}, clear {clear_rate:,.0f} {unit}"
          f" (sealed/clear {rate / clear_rate:.3f}; goal >= 0.85);"
          f" Python CPU sealed {cpu:,.1f} µs/{per}, clear {clear_cpu:,.1f} µs/{per}"
          f" (clear/sealed {clear_cpu / cpu:.3f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=1000, help="commands per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--months", type=int, default=1, help="simulated months per log")
    parser.add_argument("--repeats", type=int, default=2, help="rebuilds of each log")
    args = parser.parse_args()
    keys.configure(BENCH_MASTER)
    print(f"register_member, {args.rounds} interleaved rounds of {args.ops:,} commands:")
    show("  register_member", bench_commands(args.ops, args.rounds), "commands/s", "command")
    print(f"two logs of one simulated district over {args.months} month(s), seed 1:")
    urls = {s: dataset(s, args.months) for s in SHAPES}
    pair = bench_rebuild(urls, ["members", "tickets"], args.repeats)
    show("  rebuild members + tickets", pair, "events/s", "event")
    show(
        "  rebuild of all projections", bench_rebuild(urls, None, args.repeats), "events/s", "event"
    )


if __name__ == "__main__":
    main()
