"""`gridledger verify`: recompute every leaf from the event store and check the stored
tree and the latest signed checkpoint against it.

Leaves are recomputed in SQL (`leaf_record.LEAF_SQL`: a second implementation of the
encoding, beside the projection's Python one) and streamed through a server-side
cursor with the stored leaf of the same index, so Python only compares 32-byte
hashes and grows the tree. The first disagreement is named by position and event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg import sql

from projections import checkpoints
from projections.checkpoints import Checkpoint
from projections.leaf_record import LEAF_SQL
from projections.merkle_store import StoredTree
from projections.merkle_tree import Frontier

CHUNK = 20_000


@dataclass
class Report:
    events: int = 0
    tree_size: int = 0
    checkpoint: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _describe(position: int, aggregate_id: Any, version: Any, topic: Any) -> str:
    kind = str(topic).rsplit(":", 1)[-1] if topic else "?"
    return f"position {position} ({kind} of {aggregate_id} v{version})"


def verify_store(
    conn: psycopg.Connection[Any],
    public_key: Ed25519PublicKey,
    progress: Callable[[int], None] | None = None,
) -> Report:
    report = Report(tree_size=StoredTree(conn).size())
    checkpoint = checkpoints.latest(conn)
    report.checkpoint = checkpoint
    if checkpoint is not None and not checkpoint.verify(public_key):
        report.problems.append(
            f"the latest checkpoint (tree size {checkpoint.tree_size}) is not signed by this"
            f" server's key {checkpoints.key_id(public_key)} (signed by {checkpoint.key_id})"
        )
        checkpoint = None
    tree = Frontier()
    query = sql.SQL(
        "SELECT e.position, e.originator_id, e.originator_version, e.topic, e.leaf,"
        " l.leaf_index, l.position, l.hash"
        " FROM (SELECT row_number() OVER (ORDER BY notification_id) - 1 AS leaf_index,"
        " notification_id AS position, originator_id, originator_version, topic,"
        " {leaf} AS leaf FROM governance_events) AS e"
        " FULL JOIN merkle_leaves AS l ON l.leaf_index = e.leaf_index"
        " ORDER BY coalesce(e.leaf_index, l.leaf_index)"
    ).format(leaf=sql.SQL(LEAF_SQL))  # type: ignore[arg-type]
    with conn.transaction(), conn.cursor(name="gridledger_verify") as cur:
        cur.itersize = CHUNK
        cur.execute(query)
        for row in cur:
            position, aggregate_id, version, topic, leaf, index, stored_position, stored = row
            if index is None:  # the projection has not reached it yet
                break
            if position is None:
                report.problems.append(
                    f"position {stored_position} is missing from the event store"
                    f" (leaf {index} was recorded for it)"
                )
                break
            event = _describe(position, aggregate_id, version, topic)
            if position != stored_position:
                what = "missing" if position > stored_position else "not the event recorded"
                report.problems.append(
                    f"position {stored_position} is {what}: the event store has {event}"
                    f" as leaf {index}"
                )
                break
            if bytes(leaf) != bytes(stored):
                report.problems.append(f"{event} differs from the event recorded as leaf {index}")
                break
            tree.append(bytes(leaf))
            report.events += 1
            if checkpoint is not None and tree.size == checkpoint.tree_size:
                _against(report, checkpoint, tree)
            if progress is not None and report.events % CHUNK == 0:
                progress(report.events)
    if report.ok and report.events < report.tree_size:
        report.problems.append(f"the stored tree has {report.tree_size} leaves")
    if report.ok and checkpoint is not None and checkpoint.tree_size > report.events:
        report.problems.append(
            f"the checkpoint covers {checkpoint.tree_size} events; the store has {report.events}"
        )
    if report.ok and report.events and StoredTree(conn).root(report.events) != tree.root():
        report.problems.append("the stored tree's inner nodes disagree with its leaves")
    if progress is not None:
        progress(report.events)
    return report


def _against(report: Report, checkpoint: Checkpoint, tree: Frontier) -> None:
    if tree.root() != checkpoint.root_hash:
        report.problems.append(
            f"the events up to leaf {checkpoint.tree_size - 1} do not hash to the signed"
            f" checkpoint's root {checkpoint.root_hash.hex()}"
        )
