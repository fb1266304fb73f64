"""Audit speed: verify, inclusion proofs, and state at a version, on one dataset.

    .venv/bin/python bench/audit.py [--events 1000000] [--proofs 2000]
                                    [--aggregate-events 10000]

1. Uses bench/projections.py's dataset (database gridledger_bench_proj) if it holds at
   least --events events; else builds a smaller one of --events in
   gridledger_bench_audit the same way. Brings the merkle projection up to date
   (timed: events/s) and signs a checkpoint with a throwaway key.
2. `gridledger verify`'s check (every leaf recomputed in SQL, the tree and the
   checkpoint checked): events/s.
   With --checkpoints stored checkpoints at evenly spaced sizes, each checked.
0. Checkpoint signing with the consistency check (`projections.audit.signer.sign`): a
   Merkle log of --signing-leaves leaves is written straight into its tables (random
   leaf hashes; database gridledger_bench_signing), then 1,000 leaves are added and
   signed 20 times, each after the last: p50/max ms.
3. Inclusion proofs from the stored tree for --proofs random (leaf, tree size) pairs:
   p50/p99 ms (each proof is checked against the root).
4. State at a version: one points account given --aggregate-events events through
   `Governance` (snapshots as configured), then `repository.get(id, version=v)` for
   random versions: p50/p99 ms.

Uses GRIDLEDGER_BENCH_DATABASE_URL's server if set, else the embedded one.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime

import psycopg
from _db import ROOT, database_url, fresh_database

from api.runtime.database import library_env, migrate
from api.simulation.simulate import SimClock, simulate
from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor
from domain.points import PointsAccount
from projections.audit import checkpoints
from projections.audit.merkle_log import STORED_FROM, MerkleLog
from projections.audit.merkle_store import StoredTree
from projections.audit.merkle_tree import Frontier, verify_inclusion
from projections.audit.note import Ed25519Signer, sign_note
from projections.audit.signer import LogSigner, sign
from projections.audit.tlog_checkpoint import format_checkpoint
from projections.audit.verify import verify_store
from projections.engine import tracking
from projections.engine.runner import Runner, Target
from projections.store.events import max_position

SHARED = "gridledger_bench_proj"
OWN = "gridledger_bench_audit"
ADMIN = Meta(actor=Actor("admin-1", "admin"))
STAFF = Meta(actor=Actor("staff-1", "community_staff"))


def dataset(events: int) -> str:
    for name in (SHARED, OWN):
        try:
            with psycopg.connect(database_url(name)) as conn:
                if max_position(conn) >= events:
                    print(f"dataset: reusing {max_position(conn):,} events in {name}")
                    return database_url(name)
        except psycopg.Error:
            continue
    url = fresh_database(OWN)
    clock = SimClock(datetime(2026, 1, 1, tzinfo=UTC))
    governance = Governance(env=library_env(url), clock=clock)
    if events >= 50_000:  # a district-month is about 62,000 events
        simulate(governance, clock, scale="district", months=-(-events // 62_000), seed=1)
    else:  # a smoke run: a tiny community over a few months
        simulate(governance, clock, scale="tiny", months=3, seed=1)
    governance.close()
    print(f"dataset: {max_position_of(url):,} events simulated in {OWN}")
    return url


def max_position_of(url: str) -> int:
    with psycopg.connect(url) as conn:
        return max_position(conn)


def bench_merkle(url: str) -> None:
    governance = Governance(env=library_env(url))
    runner = Runner(url, governance.mapper, [Target(MerkleLog())], batch_size=10_000)
    runner.prepare()
    before = position_of(url, "merkle")
    started = time.perf_counter()
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()
        governance.close()
    seconds = time.perf_counter() - started
    events = position_of(url, "merkle") - before
    if events:
        print(
            f"merkle projection: {events:,} events in {seconds:.1f}s"
            f" = {events / seconds:,.0f} events/s"
        )
    else:
        print("merkle projection: already up to date")


def position_of(url: str, name: str) -> int:
    with psycopg.connect(url) as conn:
        state = tracking.current(conn, name)
        return state.position if state else 0


def bench_verify(url: str, key: Ed25519Signer, count: int) -> None:
    """`verify` with `count` stored checkpoints at evenly spaced sizes (signed directly
    over the stored tree's roots), each of which it checks."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM audit_checkpoint_notes")
        tree = StoredTree(conn)
        size = tree.size()
        for n in sorted({max(1, size * (i + 1) // count) for i in range(count)}):
            body = format_checkpoint(key.name, n, tree.root(n))
            checkpoints.store(conn, checkpoints.from_note(sign_note(body, [key]).decode()))
        started = time.perf_counter()
        report = verify_store(conn, key.verifier())
        seconds = time.perf_counter() - started
    assert report.ok, report.problems
    print(
        f"verify: {report.events:,} events and {report.checkpoints} checkpoints in"
        f" {seconds:.1f}s = {report.events / seconds:,.0f} events/s"
    )


def bench_proofs(url: str, count: int) -> None:
    rng = random.Random(1)
    times = []
    with psycopg.connect(url, autocommit=True) as conn:
        tree = StoredTree(conn)
        size = tree.size()
        for _ in range(count):
            n = rng.randint(1, size)
            index = rng.randrange(n)
            started = time.perf_counter()
            proof = tree.inclusion(index, n)
            times.append(time.perf_counter() - started)
            assert verify_inclusion(tree.leaf(index).hash, index, n, proof, tree.root(n))
    print(f"inclusion proof: {count} over tree sizes up to {size:,}: {spread(times)}")


def bench_state_at(url: str, events: int, reads: int) -> None:
    governance = Governance(env=library_env(url))
    stamp = datetime.now(UTC).strftime("%H%M%S%f")
    community = f"B{stamp}"
    for code, kind, parent in (
        (f"{community}-D", "district", None),
        (f"{community}-S", "street", f"{community}-D"),
        (community, "community", f"{community}-S"),
        (f"{community}-G", "grid", community),
    ):
        governance.define_jurisdiction(ADMIN, code=code, kind=kind, name=code, parent=parent)
    member = governance.register_member(
        ADMIN, name="王芳", phone="13800000001", kind="resident",
        party_member=False, home_grid=f"{community}-G",
    ).id  # fmt: skip
    governance.put_rule(
        STAFF, community, "VOL", description="volunteering", points=1, kind="award",
        caps=None, requires_approval=False, trigger="manual",
    )  # fmt: skip
    started = time.perf_counter()
    version = 0
    while version < events:
        version = governance.award_points(
            STAFF, member_id=member, community=community, rule_code="VOL",
            source_kind="photo", source_id=f"p{version}",
        ).version  # fmt: skip
    account = governance.points_account(member, community)
    print(
        f"state at version: a points account of {account.version:,} events"
        f" built in {time.perf_counter() - started:.0f}s"
    )
    rng = random.Random(2)
    times = []
    for _ in range(reads):
        wanted = rng.randint(1, account.version)
        started = time.perf_counter()
        then: PointsAccount = governance.repository.get(account.id, version=wanted)
        times.append(time.perf_counter() - started)
        assert then.version == wanted
    print(f"state at version: {reads} random versions: {spread(times)}")
    governance.close()


SIGNING = "gridledger_bench_signing"


def bench_signing(leaves: int, rounds: int = 20, step: int = 1000) -> None:
    url = fresh_database(SIGNING)
    tree = Frontier()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE merkle_leaves (leaf_index bigint PRIMARY KEY,"
            " position bigint NOT NULL UNIQUE, hash bytea NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE merkle_nodes (level smallint NOT NULL, index bigint NOT NULL,"
            " hash bytea NOT NULL, PRIMARY KEY (level, index))"
        )
        started = time.perf_counter()
        _grow(conn, tree, leaves)
        conn.execute("ANALYZE merkle_leaves, merkle_nodes")  # as autovacuum would
        print(f"signing: {leaves:,} leaves written in {time.perf_counter() - started:.0f}s")
        signer = LogSigner(Ed25519Signer.generate("bench.example/log"))
        with conn.transaction():
            sign(conn, signer)
        times = []
        for _ in range(rounds):
            _grow(conn, tree, step)
            started = time.perf_counter()
            with conn.transaction():
                made = sign(conn, signer)
            times.append(time.perf_counter() - started)
    print(
        f"checkpoint signing with the consistency check at {made.tree_size:,} leaves,"
        f" {rounds} rounds of +{step}: {spread(times)}, max {max(times) * 1000:.2f} ms"
    )


def _grow(conn: psycopg.Connection, tree: Frontier, count: int) -> None:
    leaves, nodes = [], []
    for _ in range(count):
        index = tree.size
        leaf = random.randbytes(32)
        leaves.append((index, index + 1, leaf))
        nodes += [n for n in tree.append(leaf) if n[0] >= STORED_FROM]
    with conn.cursor() as cur:
        with cur.copy("COPY merkle_leaves (leaf_index, position, hash) FROM STDIN") as copy:
            for row in leaves:
                copy.write_row(row)
        with cur.copy("COPY merkle_nodes (level, index, hash) FROM STDIN") as copy:
            for row in nodes:
                copy.write_row(row)


def spread(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--aggregate-events", type=int, default=10_000)
    parser.add_argument("--state-reads", type=int, default=200)
    parser.add_argument("--checkpoints", type=int, default=100, help="Stored, for verify.")
    parser.add_argument("--signing-leaves", type=int, default=1_000_000)
    parser.add_argument("--signing-only", action="store_true", help="Only the signing bench.")
    args = parser.parse_args()
    print(f"gridledger bench/audit.py at {datetime.now(UTC):%Y-%m-%d %H:%M}Z ({ROOT})")
    bench_signing(args.signing_leaves)
    if args.signing_only:
        return
    url = dataset(args.events)
    migrate(url)  # a dataset made by an older version may lack newer tables
    bench_merkle(url)
    bench_verify(url, Ed25519Signer.generate("bench.example/log"), args.checkpoints)
    bench_proofs(url, args.proofs)
    bench_state_at(url, args.aggregate_events, args.state_reads)


if __name__ == "__main__":
    main()
