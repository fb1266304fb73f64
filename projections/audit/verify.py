"""`gridledger verify`: recompute every leaf from the event store and check the stored
tree and every signed checkpoint against it (none stored is a failure).

Leaves are recomputed in SQL (`leaf_record.LEAF_SQL`: a second implementation of the
encoding, beside the projection's Python one) and compared there with the stored leaf
of the same index; a server-side cursor streams each recomputed leaf with the verdict
(binary, two columns), and Python grows the tree from the recomputed leaves, 2**14 at
a time where it can. The first disagreement is read again in full and named by
position and event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from projections.audit import checkpoints
from projections.audit.checkpoints import Checkpoint, CheckpointError, open_checkpoint
from projections.audit.leaf_record import LEAF_SQL
from projections.audit.merkle_store import StoredTree
from projections.audit.merkle_tree import Frontier, MemoryNodes, perfect_root
from projections.audit.note import Ed25519Verifier
from projections.audit.tlog_cosignature import CosignatureVerifier
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
    checkpoints: int = 0
    witnesses: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _describe(position: int, aggregate_id: Any, version: Any, topic: Any) -> str:
    kind = str(topic).rsplit(":", 1)[-1] if topic else "?"
    return f"position {position} ({kind} of {aggregate_id} v{version})"


def _opened(
    report: Report,
    conn: psycopg.Connection[Any],
    log: Ed25519Verifier,
    witnesses: Sequence[CosignatureVerifier],
    quorum: int,
) -> dict[int, list[Checkpoint]]:
    """Every stored checkpoint that opens with the pinned key, by tree size; each one
    that does not is a problem, and so is having none at all."""
    marks: dict[int, list[Checkpoint]] = {}
    found = checkpoints.stored(conn)
    for checkpoint in found:
        try:
            open_checkpoint(checkpoint, log)
        except CheckpointError as error:
            report.problems.append(f"the checkpoint of tree size {checkpoint.tree_size}: {error}")
            continue
        marks.setdefault(checkpoint.tree_size, []).append(checkpoint)
    if not found:
        report.problems.append("no signed checkpoint is stored: nothing ties the log to the key")
    elif marks:
        report.checkpoint = found[-1]
        try:
            report.witnesses = open_checkpoint(found[-1], log, witnesses, quorum).witnesses
        except CheckpointError as error:
            report.problems.append(f"the latest checkpoint: {error}")
    report.checkpoints = sum(len(v) for v in marks.values())
    return marks


def verify_store(
    conn: psycopg.Connection[Any],
    log: Ed25519Verifier,
    progress: Callable[[int], None] | None = None,
    witnesses: Sequence[CosignatureVerifier] = (),
    quorum: int = 0,
) -> Report:
    """Recompute every leaf from the event store, and check every stored checkpoint
    (signed by `log`, its root that of the recomputed leaves at its size), the latest
    one against the witness policy, and the stored tree."""
    report = Report(tree_size=StoredTree(conn).size())
    marks = _opened(report, conn, log, witnesses, quorum)
    tree = _Grown(report, marks)
    with conn.transaction(), conn.cursor(name="gridledger_verify", binary=True) as cur:
        cur.itersize = CHUNK
        cur.execute(_query(_VERDICT, ""))
        for index, stored, ok, leaf in cur:
            if not stored:  # the projection has not reached it yet
                break
            if not ok:
                _name_mismatch(conn, report, index)
                break
            tree.add(leaf)
            if progress is not None and not tree.buffered:
                progress(tree.tree.size)
    tree.flush()
    report.events = tree.tree.size
    if report.ok and report.events < report.tree_size:
        report.problems.append(f"the stored tree has {report.tree_size} leaves")
    beyond = [size for size in marks if size > report.events]
    if report.ok and beyond:
        report.problems.append(
            f"the checkpoint covers {max(beyond)} events; the store has {report.events}"
        )
    if report.ok and report.events and StoredTree(conn).root(report.events) != tree.tree.root():
        report.problems.append("the stored tree's inner nodes disagree with its leaves")
    if progress is not None:
        progress(report.events)
    return report


class _Grown:
    """The tree of the recomputed leaves, grown a block of 2**14 at a time where it can,
    checking each checkpoint's root as the tree passes its size."""

    def __init__(self, report: Report, marks: dict[int, list[Checkpoint]]) -> None:
        self.report = report
        self.marks = marks
        self.sizes = sorted(marks)
        self.tree = Frontier()
        self.buffered: list[bytes] = []

    def add(self, leaf: bytes) -> None:
        self.buffered.append(leaf)
        if len(self.buffered) == BLOCK:
            self.flush()

    def flush(self) -> None:
        start = self.tree.size
        if len(self.buffered) == BLOCK and start % BLOCK == 0:
            inner = [m for m in self.sizes if start < m < start + BLOCK]
            nodes = MemoryNodes(self.buffered) if inner else None
            for mark in inner:
                self._against(mark, _root_within(self.tree, nodes, mark - start))
            top = nodes.levels[-1][0] if nodes else perfect_root(self.buffered)
            self.tree.append_subtree(BLOCK_LEVEL, top)
            self._check()
        else:
            for leaf in self.buffered:
                self.tree.append(leaf)
                self._check()
        self.buffered.clear()

    def _check(self) -> None:
        if self.tree.size in self.marks:
            self._against(self.tree.size, self.tree.root())

    def _against(self, size: int, root: bytes) -> None:
        for checkpoint in self.marks[size]:
            if root != checkpoint.root_hash:
                self.report.problems.append(
                    f"the events up to leaf {size - 1} do not hash to the signed checkpoint's"
                    f" root {checkpoint.root_hash.hex()} (tree size {size})"
                )


def _root_within(tree: Frontier, nodes: Any, count: int) -> bytes:
    """The root of `tree` followed by the first `count` leaves of the block `nodes`."""
    grown = Frontier(tree.peaks)
    done = 0
    for level in range(BLOCK_LEVEL, -1, -1):
        if count >> level & 1:
            grown.append_subtree(level, nodes.node(level, done >> level))
            done += 1 << level
    return grown.root()


def _query(columns: str, where: str) -> sql.Composed:
    return _JOINED.format(
        columns=sql.SQL(columns),
        leaf=sql.SQL(LEAF_SQL),
        where=sql.SQL(where),
        events=EVENTS,
    )


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
