"""`gridledger verify`: recompute every leaf from the event store and check the stored
tree and the latest signed checkpoint against it.

Leaves are recomputed in SQL (`leaf_record.LEAF_SQL`: a second implementation of the
encoding, beside the projection's Python one) and compared there with the stored leaf
of the same index; a server-side cursor streams each recomputed leaf with the verdict
(binary, two columns), and Python grows the tree from the recomputed leaves, 2**14 at
a time where it can. The first disagreement is read again in full and named by
position and event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg import sql

from projections.audit import checkpoints
from projections.audit.checkpoints import Checkpoint
from projections.audit.leaf_record import LEAF_SQL
from projections.audit.merkle_store import StoredTree
from projections.audit.merkle_tree import Frontier, perfect_root
from projections.store.events import EVENTS

CHUNK = 20_000
BLOCK_LEVEL = 14
BLOCK = 1 << BLOCK_LEVEL

_JOINED = sql.SQL(
    "SELECT {columns}"
    " FROM (SELECT row_number() OVER (ORDER BY notification_id) - 1 AS leaf_index,"
    " notification_id AS position, originator_id, originator_version, topic,"
    " {leaf} AS leaf FROM {events}) AS e"
    " FULL JOIN merkle_leaves AS l ON l.leaf_index = e.leaf_index {where}"
    " ORDER BY coalesce(e.leaf_index, l.leaf_index)"
)
_VERDICT = (
    "coalesce(e.leaf_index, l.leaf_index), l.leaf_index IS NOT NULL,"
    " coalesce(e.position = l.position AND e.leaf = l.hash, false), e.leaf"
)
_FULL = "e.position, e.originator_id, e.originator_version, e.topic, l.leaf_index, l.position"


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
    buffered: list[bytes] = []
    mark = checkpoint.tree_size if checkpoint is not None else None

    def flush() -> None:
        if len(buffered) == BLOCK and tree.size % BLOCK == 0 and not _within(tree, mark):
            tree.append_subtree(BLOCK_LEVEL, perfect_root(buffered))
            if checkpoint is not None and tree.size == mark:
                _against(report, checkpoint, tree)
        else:
            for leaf in buffered:
                tree.append(leaf)
                if checkpoint is not None and tree.size == mark:
                    _against(report, checkpoint, tree)
        buffered.clear()

    with conn.transaction(), conn.cursor(name="gridledger_verify", binary=True) as cur:
        cur.itersize = CHUNK
        cur.execute(_query(_VERDICT, ""))
        for index, stored, ok, leaf in cur:
            if not stored:  # the projection has not reached it yet
                break
            if not ok:
                _name_mismatch(conn, report, index)
                break
            buffered.append(leaf)
            if len(buffered) == BLOCK:
                flush()
                if progress is not None:
                    progress(tree.size)
    if buffered:
        flush()
    report.events = tree.size
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


def _query(columns: str, where: str) -> sql.Composed:
    return _JOINED.format(
        columns=sql.SQL(columns),
        leaf=sql.SQL(LEAF_SQL),
        where=sql.SQL(where),
        events=EVENTS,
    )


def _within(tree: Frontier, mark: int | None) -> bool:
    """Whether a checkpoint's size falls strictly inside the next block of leaves."""
    return mark is not None and tree.size < mark < tree.size + BLOCK


def _name_mismatch(conn: psycopg.Connection[Any], report: Report, index: int) -> None:
    """Read the first disagreeing row again, in full, and say what is wrong with it."""
    row = conn.execute(
        _query(_FULL, "WHERE coalesce(e.leaf_index, l.leaf_index) = %s"), (index,)
    ).fetchone()
    assert row is not None
    position, aggregate_id, version, topic, index, stored_position = row
    if position is None:
        report.problems.append(
            f"position {stored_position} is missing from the event store"
            f" (leaf {index} was recorded for it)"
        )
        return
    event = _describe(position, aggregate_id, version, topic)
    if position != stored_position:
        what = "missing" if position > stored_position else "not the event recorded"
        report.problems.append(
            f"position {stored_position} is {what}: the event store has {event} as leaf {index}"
        )
        return
    report.problems.append(f"{event} differs from the event recorded as leaf {index}")


def _against(report: Report, checkpoint: Checkpoint, tree: Frontier) -> None:
    if tree.root() != checkpoint.root_hash:
        report.problems.append(
            f"the events up to leaf {checkpoint.tree_size - 1} do not hash to the signed"
            f" checkpoint's root {checkpoint.root_hash.hex()}"
        )
