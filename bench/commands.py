"""Command throughput and aggregate load times, measured in one run.

    .venv/bin/python bench/commands.py [--ops 1000] [--rounds 5] [--entries 10000]

1. Single-event commands per second through `Governance` (accept_ticket on reported
   tickets: load, check, save; and register_member: check, save) against the bare
   library's `Application.save` of a trivial aggregate, in interleaved rounds on the
   same database, so that both meet the same machine.
2. Load time of a points account with N entries, with and without snapshots, both
   right after a snapshot and at the worst point (49 events after one).

Uses GRIDLEDGER_BENCH_DATABASE_URL's server if set, else the embedded one.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from uuid import UUID

from _db import fresh_database
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from api.runtime.database import library_env
from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor
from domain.points import PointsAccount

ADMIN = Meta(actor=Actor("bench-admin", "admin"))
STAFF = Meta(actor=Actor("bench-staff", "community_staff"))


class Trivial(Aggregate):
    @event("Made")
    def __init__(self, n: int) -> None:
        self.n = n


class Bare(Application):
    name = "BareBench"


def rate(ops: int, fn: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for i in range(ops):
        fn(i)
    return ops / (time.perf_counter() - started)


def accept(gov: Governance, tickets: list[UUID], i: int) -> object:
    return gov.accept_ticket(STAFF, tickets[i])


def setup_tree(gov: Governance) -> None:
    for code, kind, parent in [
        ("D", "district", None),
        ("D-S", "street", "D"),
        ("D-S-C", "community", "D-S"),
        ("D-S-C-G", "grid", "D-S-C"),
    ]:
        gov.define_jurisdiction(ADMIN, code=code, kind=kind, name=code, parent=parent)


def bench_commands(url: str, ops: int, rounds: int) -> None:
    gov = Governance(env=library_env(url))
    bare = Bare(env=library_env(url, create_table=True))
    setup_tree(gov)
    tickets = [
        gov.report_ticket(
            STAFF, category="环境卫生", description="垃圾未清运", grid="D-S-C-G", source="resident"
        ).id
        for _ in range(ops * rounds)
    ]
    results: dict[str, list[float]] = {"bare": [], "accept": [], "register": []}
    for r in range(rounds):
        batch = tickets[r * ops : (r + 1) * ops]
        results["bare"].append(rate(ops, lambda i: bare.save(Trivial(n=i))))
        results["accept"].append(rate(ops, partial(accept, gov, batch)))
        results["register"].append(
            rate(
                ops,
                lambda i: gov.register_member(
                    STAFF,
                    name=f"居民{i}",
                    phone="13800138000",
                    kind="resident",
                    party_member=False,
                    home_grid=None,
                ),
            )
        )
    bare_rate = statistics.median(results["bare"])
    print(f"commands: {ops} ops x {rounds} interleaved rounds, median per round")
    print(f"  bare Application.save (trivial aggregate) {bare_rate:8.0f} events/s")
    for name in ("accept", "register"):
        ours = statistics.median(results[name])
        label = {
            "accept": "Governance.accept_ticket (load+check+save)",
            "register": "Governance.register_member (check+save)",
        }[name]
        print(f"  {label:44s} {ours:8.0f} commands/s = {ours / bare_rate:5.0%} of bare")
    gov.close()
    bare.close()


def time_loads(gov: Governance, account_id: UUID, n: int) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        gov.repository.get(account_id)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def award(gov: Governance, member: UUID, source_kind: str, times: int) -> None:
    """Award the GARBAGE rule to `member` `times` times, each for a source of its own."""
    for i in range(times):
        gov.award_points(
            STAFF,
            member_id=member,
            community="D-S-C",
            rule_code="GARBAGE",
            source_kind=source_kind,
            source_id=str(i),
        )


def bench_account(url: str, entries: int) -> None:
    gov = Governance(env=library_env(url))
    unsnapped = Governance(env={**library_env(url), "IS_SNAPSHOTTING_ENABLED": "n"})
    gov.put_rule(
        ADMIN,
        "D-S-C",
        "GARBAGE",
        description="垃圾分类",
        points=1,
        kind="award",
        caps={},
        requires_approval=False,
        trigger="manual",
    )
    member = gov.register_member(
        ADMIN,
        name="张三",
        phone="13800138000",
        kind="resident",
        party_member=False,
        home_grid="D-S-C-G",
    ).id
    started = time.perf_counter()
    award(gov, member, "bench", entries - 1)
    seconds = time.perf_counter() - started
    account_id = PointsAccount.id_for(member, "D-S-C")
    account: PointsAccount = gov.repository.get(account_id)
    print(
        f"points account: {entries - 1} awards written in {seconds:.1f}s; version {account.version}"
    )
    interval = Governance.snapshotting_intervals[PointsAccount]
    print(
        f"  load, snapshots every {interval}, {account.version % interval} events after one:"
        f" {time_loads(gov, account_id, 200):6.2f} ms median"
    )
    print(
        f"  load without snapshots (full replay of {account.version} events):"
        f" {time_loads(unsnapped, account_id, 10):6.2f} ms median"
    )
    award(gov, member, "bench-extra", (interval - 1) - account.version % interval)
    account = gov.repository.get(account_id)
    print(
        f"  load, worst case ({account.version % interval} events after a snapshot):"
        f" {time_loads(gov, account_id, 200):6.2f} ms median"
    )
    gov.close()
    unsnapped.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--entries", type=int, default=10_000)
    args = parser.parse_args()
    url = fresh_database("gridledger_bench_commands")
    print(f"gridledger bench/commands.py at {datetime.now(UTC):%Y-%m-%d %H:%M}Z")
    bench_commands(url, args.ops, args.rounds)
    bench_account(url, args.entries)


if __name__ == "__main__":
    main()
