from __future__ import annotations

import psycopg
import pytest

from domain.application import Governance
from domain.commands.base import Meta
from projections.audit.leaf_record import LEAF_SQL, event_leaf
from projections.audit.merkle_log import MerkleLog
from projections.audit.merkle_store import StoredTree
from projections.audit.merkle_tree import root, verify_consistency, verify_inclusion
from projections.engine.runner import Runner, Target
from tests.test_projections import Interrupted, InterruptOnce


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


def test_a_page_that_did_not_commit_is_hashed_again_from_the_stored_tree(
    governance: Governance, admin: Meta, tree, database_url: str, db: psycopg.Connection
) -> None:
    register(governance, admin, tree["grid"], 5)
    merkle, stopper = MerkleLog(), InterruptOnce()
    runner = Runner(
        database_url, governance.mapper, [Target(merkle), Target(stopper)], batch_size=4
    )
    try:
        runner.run_until_caught_up()
        register(governance, admin, tree["grid"], 6)
        stopper.armed = True
        with pytest.raises(Interrupted):  # merkle hashed a page, then it rolled back
            runner.run_page()
        runner.run_until_caught_up()
    finally:
        runner.close()
    register(governance, admin, tree["grid"], 3)
    other = Runner(database_url, governance.mapper, [Target(merkle)], batch_size=4)
    try:
        other.run_until_caught_up()  # another connection: the tree is read again
    finally:
        other.close()
    leaves = [
        bytes(h)
        for (h,) in db.execute(f"SELECT {LEAF_SQL} FROM governance_events ORDER BY notification_id")
    ]
    stored = StoredTree(db)
    assert stored.size() == len(leaves)
    for size in range(1, len(leaves) + 1):
        assert stored.root(size) == root(leaves[:size])
