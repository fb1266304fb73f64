from __future__ import annotations

import psycopg

from domain.application import Governance
from domain.commands.base import Meta
from projections.families.merkle import MerkleLog
from projections.leaf_record import LEAF_SQL, event_leaf
from projections.merkle_store import StoredTree
from projections.merkle_tree import root, verify_consistency, verify_inclusion
from projections.runner import Runner, Target


def register(governance: Governance, admin: Meta, grid: str, n: int) -> None:
    for i in range(n):
        governance.register_member(
            admin,
            name=f"居民{i}",
            phone="13800138000",
            kind="resident",
            party_member=False,
            home_grid=grid,
        )


def test_the_stored_tree_commits_to_every_event_in_order(
    governance: Governance, admin: Meta, tree, database_url: str, db: psycopg.Connection
) -> None:
    register(governance, admin, tree["grid"], 30)
    runner = Runner(database_url, governance.mapper, [Target(MerkleLog())], batch_size=7)
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()
    events = db.execute(
        "SELECT notification_id, originator_id, originator_version, topic, state,"
        f" {LEAF_SQL} FROM governance_events ORDER BY notification_id"
    ).fetchall()
    leaves = [event_leaf(p, a, v, t, bytes(s)) for p, a, v, t, s, _ in events]
    assert leaves == [bytes(e[5]) for e in events]  # Python and SQL agree
    stored = StoredTree(db)
    assert stored.size() == len(events)
    for size in (1, 2, 7, 16, 25, len(events)):
        assert stored.root(size) == root(leaves[:size])
    head = stored.root(len(events))
    leaf = stored.leaf_at(events[11][0])
    proof = stored.inclusion(leaf.index, len(events))
    assert verify_inclusion(leaves[11], leaf.index, len(events), proof, head)
    proof = stored.consistency(9, len(events))
    assert verify_consistency(9, len(events), stored.root(9), head, proof)
