"""Merkle trees as RFC 9162 section 2.1 defines them: no database, no I/O.

    leaf hash  = SHA-256(0x00 || leaf input)
    node hash  = SHA-256(0x01 || left || right)
    MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

Proofs are made from a `Nodes` source: `node(level, index)` is the hash of the
complete subtree of 2**level leaves starting at leaf index * 2**level (level 0: the
leaf hashes). Every range the RFC's recursion asks for is either such a complete,
aligned subtree (one look-up) or is split again, so a store that keeps the complete
subtrees answers a proof in O(log² n) look-ups. `needed()` lists those look-ups in
advance, so a database can fetch them in one query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

Hash = bytes
EMPTY_ROOT = hashlib.sha256(b"").digest()


class Nodes(Protocol):
    def node(self, level: int, index: int) -> Hash: ...


def leaf_hash(data: bytes) -> Hash:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: Hash, right: Hash) -> Hash:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def peaks(size: int) -> list[tuple[int, int]]:
    """(level, index) of the complete subtrees that cover leaves [0, size), largest first."""
    answer = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            answer.append((level, start >> level))
            start += 1 << level
    return answer


def root(leaves: Iterable[Hash]) -> Hash:
    """MTH of the leaf hashes, in one pass (O(log n) memory)."""
    tree = Frontier()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


class Frontier:
    """A tree grown leaf by leaf, keeping only its peaks: (level, hash), largest first.

    It may start from the peaks of a prefix (another party's summary of leaves
    [0, size)) and be extended with the leaves after it."""

    def __init__(self, peaks: Sequence[tuple[int, Hash]] = ()) -> None:
        self.peaks = list(peaks)
        self.size = sum(1 << level for level, _ in self.peaks)

    def append(self, leaf: Hash) -> list[tuple[int, int, Hash]]:
        """Add a leaf; answer the complete subtrees it completes as (level, index, hash)."""
        made = [(0, self.size, leaf)]
        level, value = 0, leaf
        while self.peaks and self.peaks[-1][0] == level:
            _, left = self.peaks.pop()
            level, value = level + 1, node_hash(left, value)
            made.append((level, self.size >> level, value))
        self.peaks.append((level, value))
        self.size += 1
        return made

    def append_subtree(self, level: int, value: Hash) -> None:
        """Add 2**level leaves at once, given their subtree's hash (the tree's size must
        be a multiple of 2**level, so no peak is smaller)."""
        if self.size % (1 << level):
            raise ValueError(f"a subtree of level {level} cannot start at leaf {self.size}")
        self.size += 1 << level
        while self.peaks and self.peaks[-1][0] == level:
            _, left = self.peaks.pop()
            level, value = level + 1, node_hash(left, value)
        self.peaks.append((level, value))

    def root(self) -> Hash:
        if not self.peaks:
            return EMPTY_ROOT
        value = self.peaks[-1][1]
        for _, left in reversed(self.peaks[:-1]):
            value = node_hash(left, value)
        return value


def perfect_root(leaves: Sequence[Hash]) -> Hash:
    """The root of a power-of-two number of leaf hashes."""
    level = list(leaves)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def subtree(nodes: Nodes, lo: int, hi: int) -> Hash:
    """MTH(D[lo:hi]) for lo aligned as the RFC's recursion leaves it."""
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and lo % n == 0:
        return nodes.node(n.bit_length() - 1, lo // n)
    k = split(n)
    return node_hash(subtree(nodes, lo, lo + k), subtree(nodes, lo + k, hi))


def tree_root(nodes: Nodes, size: int) -> Hash:
    return subtree(nodes, 0, size)


def inclusion_proof(nodes: Nodes, index: int, size: int) -> list[Hash]:
    """PATH(index, D[0:size]) (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    return _path(nodes, index, 0, size)


def _path(nodes: Nodes, m: int, lo: int, hi: int) -> list[Hash]:
    n = hi - lo
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return [*_path(nodes, m, lo, lo + k), subtree(nodes, lo + k, hi)]
    return [*_path(nodes, m - k, lo + k, hi), subtree(nodes, lo, lo + k)]


def consistency_proof(nodes: Nodes, old: int, new: int) -> list[Hash]:
    """PROOF(old, D[0:new]) (RFC 9162 2.1.4.1); empty when old == new."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    return _subproof(nodes, old, 0, new, True)


def _subproof(nodes: Nodes, m: int, lo: int, hi: int, whole: bool) -> list[Hash]:
    n = hi - lo
    if m == n:
        return [] if whole else [subtree(nodes, lo, hi)]
    k = split(n)
    if m <= k:
        return [*_subproof(nodes, m, lo, lo + k, whole), subtree(nodes, lo + k, hi)]
    return [*_subproof(nodes, m - k, lo + k, hi, False), subtree(nodes, lo, lo + k)]


def verify_inclusion(
    leaf: Hash, index: int, size: int, proof: Sequence[Hash], expected_root: Hash
) -> bool:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, value = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            value = node_hash(p, value)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            value = node_hash(value, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and value == expected_root


def verify_consistency(
    old: int, new: int, old_root: Hash, new_root: Hash, proof: Sequence[Hash]
) -> bool:
    """RFC 9162 2.1.4.2."""
    if not 0 < old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first, second = node_hash(c, first), node_hash(c, second)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and first == old_root and second == new_root


class MemoryNodes:
    """Nodes of a list of leaf hashes, each complete subtree computed once."""

    def __init__(self, leaves: Sequence[Hash]) -> None:
        self.levels: list[list[Hash]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    def node(self, level: int, index: int) -> Hash:
        return self.levels[level][index]


class Recording:
    """A `Nodes` that answers a placeholder and notes what was asked (see `needed`)."""

    def __init__(self) -> None:
        self.asked: set[tuple[int, int]] = set()

    def node(self, level: int, index: int) -> Hash:
        self.asked.add((level, index))
        return EMPTY_ROOT


def needed(compute: Callable[[Nodes], object]) -> set[tuple[int, int]]:
    """The (level, index) look-ups `compute` makes (it must not branch on hash values)."""
    recording = Recording()
    compute(recording)
    return recording.asked
