"""Roots and proofs of the stored Merkle log (the `merkle` projection's tables).

Each answer fetches the few subtree hashes it needs in one query (`merkle_tree.needed`),
with the leaves of any subtree too small to be stored, and computes the rest in memory.
Reads the active generation through its views.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from projections.audit import merkle_tree
from projections.audit.merkle_log import STORED_FROM
from projections.audit.merkle_tree import Hash, Nodes

T = TypeVar("T")


class UnknownLeafError(LookupError):
    """Raised when a position or tree size lies beyond the stored log."""


@dataclass(frozen=True)
class Leaf:
    index: int
    position: int
    hash: Hash


class StoredTree:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def size(self) -> int:
        row = self.conn.execute(
            "SELECT coalesce(max(leaf_index) + 1, 0) FROM merkle_leaves"
        ).fetchone()
        return int(row[0]) if row else 0

    def leaf_at(self, position: int) -> Leaf:
        return self._leaf("position", position)

    def leaf(self, index: int) -> Leaf:
        return self._leaf("leaf_index", index)

    def _leaf(self, column: str, value: int) -> Leaf:
        row = self.conn.execute(
            sql.SQL("SELECT leaf_index, position, hash FROM merkle_leaves WHERE {} = %s").format(
                sql.Identifier(column)
            ),
            (value,),
        ).fetchone()
        if row is None:
            raise UnknownLeafError(f"no leaf at {column.replace('_', ' ')} {value}")
        return Leaf(int(row[0]), int(row[1]), bytes(row[2]))

    def root(self, size: int) -> Hash:
        self._within(size)
        return self._compute(lambda nodes: merkle_tree.tree_root(nodes, size))

    def inclusion(self, index: int, size: int) -> list[Hash]:
        self._within(size)
        return self._compute(lambda nodes: merkle_tree.inclusion_proof(nodes, index, size))

    def consistency(self, old: int, new: int) -> list[Hash]:
        self._within(new)
        return self._compute(lambda nodes: merkle_tree.consistency_proof(nodes, old, new))

    def root_with_proofs(self, size: int, olds: Sequence[int]) -> tuple[Hash, list[list[Hash]]]:
        """The root of `size` leaves and a consistency proof to it from each of `olds`
        (each in 1..size), in one query."""
        self._within(size)

        def compute(nodes: Nodes) -> tuple[Hash, list[list[Hash]]]:
            proofs = [merkle_tree.consistency_proof(nodes, old, size) for old in olds]
            return merkle_tree.tree_root(nodes, size), proofs

        return self._compute(compute)

    def peaks(self, size: int) -> list[tuple[int, Hash]]:
        """The complete subtrees covering leaves [0, size), as (level, hash)."""
        self._within(size)
        keys = merkle_tree.peaks(size)
        found = self._fetch(keys)
        return [(level, found[(level, index)]) for level, index in keys]

    def _within(self, size: int) -> None:
        if size > self.size():
            raise UnknownLeafError(f"the stored log has fewer than {size} leaves")

    def _compute(self, compute: Callable[[Nodes], T]) -> T:
        found = self._fetch(merkle_tree.needed(compute))
        return compute(_Found(found))

    def _fetch(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Hash]:
        """The hashes of the complete subtrees `keys`, in one query: stored ones are
        read, smaller ones (below `STORED_FROM`) recomputed from their leaves."""
        keys = list(keys)
        small = [(level, i) for level, i in keys if level < STORED_FROM]
        inner = [(level, i) for level, i in keys if level >= STORED_FROM]
        leaves = sorted({j for level, i in small for j in range(i << level, (i + 1) << level)})
        rows = self.conn.execute(
            "SELECT 0, leaf_index, hash FROM merkle_leaves WHERE leaf_index = ANY(%s)"
            " UNION ALL SELECT level, index, hash FROM merkle_nodes"
            " WHERE (level, index) IN (SELECT * FROM unnest(%s::int[], %s::bigint[]))",
            (leaves, [k[0] for k in inner], [k[1] for k in inner]),
        ).fetchall()
        found = {(int(level), int(index)): bytes(h) for level, index, h in rows}
        for level, i in small:
            if level > 0:
                span = range(i << level, (i + 1) << level)
                found[(level, i)] = merkle_tree.root(found[(0, j)] for j in span)
        return found


class _Found:
    def __init__(self, found: dict[tuple[int, int], Hash]) -> None:
        self.found = found

    def node(self, level: int, index: int) -> Hash:
        return self.found[(level, index)]
