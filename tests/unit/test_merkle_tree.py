"""RFC 9162 trees: roots, inclusion and consistency proofs, against the RFC's own
recursive definitions written out plainly here."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.audit.merkle_tree import (
    EMPTY_ROOT,
    Frontier,
    MemoryNodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    needed,
    peaks,
    root,
    tree_root,
    verify_consistency,
    verify_inclusion,
)


def rfc_mth(data: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 2.1.1 writes it, over leaf inputs."""
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + rfc_mth(data[:k]) + rfc_mth(data[k:])).digest()


def inputs(n: int) -> list[bytes]:
    return [f"event {i}".encode() for i in range(n)]


def test_known_roots_match_the_rfc_definition() -> None:
    assert root([]) == EMPTY_ROOT
    for n in range(1, 40):
        data = inputs(n)
        assert root(leaf_hash(d) for d in data) == rfc_mth(data)
        assert tree_root(MemoryNodes([leaf_hash(d) for d in data]), n) == rfc_mth(data)


def test_the_empty_tree_and_one_leaf_follow_the_rfc() -> None:
    assert EMPTY_ROOT.hex().startswith("e3b0c442")
    assert root([leaf_hash(b"")]).hex().startswith("6e340b9c")  # RFC 6962 test vector


def test_peaks_cover_the_prefix_largest_first() -> None:
    assert peaks(0) == []
    assert peaks(13) == [(3, 0), (2, 2), (0, 12)]


@given(st.integers(1, 300), st.data())
def test_inclusion_proofs_verify_for_every_size(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(d) for d in inputs(size)]
    nodes = MemoryNodes(leaves)
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(nodes, index, size)
    expected = rfc_mth(inputs(size))
    assert verify_inclusion(leaves[index], index, size, proof, expected)


@given(st.integers(2, 300), st.data())
def test_a_tampered_inclusion_proof_fails(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(d) for d in inputs(size)]
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(MemoryNodes(leaves), index, size)
    good = root(leaves)
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
    assert not verify_inclusion(leaves[other], index, size, proof, good)
    assert not verify_inclusion(leaves[index], other, size, proof, good)
    assert not verify_inclusion(leaf_hash(b"forged"), index, size, proof, good)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        flipped = [*proof]
        flipped[at] = bytes([proof[at][0] ^ 1]) + proof[at][1:]
        assert not verify_inclusion(leaves[index], index, size, flipped, good)
        assert not verify_inclusion(leaves[index], index, size, proof[:-1], good)
    assert not verify_inclusion(leaves[index], index, size, [*proof, good], good)


@given(st.integers(1, 300), st.data())
def test_consistency_proofs_verify_between_any_two_sizes(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(d) for d in inputs(size)]
    nodes = MemoryNodes(leaves)
    old = data.draw(st.integers(1, size))
    proof = consistency_proof(nodes, old, size)
    assert verify_consistency(old, size, rfc_mth(inputs(old)), rfc_mth(inputs(size)), proof)


@given(st.integers(2, 300), st.data())
def test_a_tampered_consistency_proof_fails(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(d) for d in inputs(size)]
    old = data.draw(st.integers(1, size - 1))
    proof = consistency_proof(MemoryNodes(leaves), old, size)
    old_root, new_root = root(leaves[:old]), root(leaves)
    at = data.draw(st.integers(0, len(proof) - 1))
    flipped = [*proof]
    flipped[at] = bytes([proof[at][0] ^ 1]) + proof[at][1:]
    assert not verify_consistency(old, size, old_root, new_root, flipped)
    assert not verify_consistency(old, size, old_root, new_root, proof[:-1])
    assert not verify_consistency(old, size, new_root, new_root, proof)
    rewritten = [*leaves]
    rewritten[data.draw(st.integers(0, old - 1))] = leaf_hash(b"rewritten history")
    assert not verify_consistency(old, size, root(rewritten[:old]), new_root, proof)
    assert not verify_consistency(old, size, old_root, root(rewritten), proof)


@given(st.integers(0, 200), st.integers(0, 200))
def test_a_frontier_started_from_a_prefix_reaches_the_same_root(head: int, tail: int) -> None:
    leaves = [leaf_hash(d) for d in inputs(head + tail)]
    nodes = MemoryNodes(leaves)
    prefix = Frontier([(level, nodes.node(level, i)) for level, i in peaks(head)])
    for leaf in leaves[head:]:
        prefix.append(leaf)
    assert prefix.size == head + tail
    assert prefix.root() == root(leaves)


def test_the_look_ups_a_proof_needs_are_known_in_advance() -> None:
    leaves = [leaf_hash(d) for d in inputs(1000)]
    nodes = MemoryNodes(leaves)
    asked = needed(lambda source: inclusion_proof(source, 617, 1000))
    subset = {key: nodes.node(*key) for key in asked}

    class Only:
        def node(self, level: int, index: int) -> bytes:
            return subset[(level, index)]

    assert inclusion_proof(Only(), 617, 1000) == inclusion_proof(nodes, 617, 1000)
    assert len(asked) < 40


@pytest.mark.parametrize("blocks, tail", [(1, 0), (3, 5), (4, 0), (5, 3)])
def test_appending_whole_subtrees_gives_the_root_of_appending_their_leaves(
    blocks: int, tail: int
) -> None:
    from projections.audit.merkle_tree import Frontier, perfect_root

    leaves = [leaf_hash(bytes([i % 256, i // 256])) for i in range(blocks * 8 + tail)]
    one_by_one, in_blocks = Frontier(), Frontier()
    for leaf in leaves:
        one_by_one.append(leaf)
    for b in range(blocks):
        in_blocks.append_subtree(3, perfect_root(leaves[b * 8 : (b + 1) * 8]))
    for leaf in leaves[blocks * 8 :]:
        in_blocks.append(leaf)
    assert in_blocks.size == one_by_one.size == len(leaves)
    assert in_blocks.root() == one_by_one.root()


def test_a_subtree_must_start_where_its_size_is_aligned() -> None:
    from projections.audit.merkle_tree import Frontier

    tree = Frontier()
    tree.append(leaf_hash(b"x"))
    with pytest.raises(ValueError, match="cannot start"):
        tree.append_subtree(3, leaf_hash(b"y"))
