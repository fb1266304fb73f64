"""The signer's check before signing: it accepts exactly the append-only extensions of
the last signed checkpoint, over any pair of tree sizes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.audit.merkle_tree import (
    MemoryNodes,
    consistency_proof,
    leaf_hash,
    root,
    tree_root,
)
from projections.audit.signer import refusal


def _leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


@given(
    old=st.integers(1, 300),
    extra=st.integers(0, 300),
    changed=st.none() | st.floats(0, 1, exclude_max=True),
)
def test_only_a_tree_that_keeps_every_signed_leaf_is_signed(old, extra, changed) -> None:
    signed = _leaves(old)
    new = _leaves(old + extra)
    index = None if changed is None else int(changed * len(new))
    if index is not None:
        new[index] = leaf_hash(b"rewritten")
    nodes = MemoryNodes(new)
    size = len(new)
    reason = refusal(
        old, root(signed), size, tree_root(nodes, size), consistency_proof(nodes, old, size)
    )
    assert (reason is None) == (index is None or index >= old), reason


@given(old=st.integers(2, 300), shrink=st.integers(1, 300))
def test_a_smaller_tree_is_never_signed(old, shrink) -> None:
    size = max(0, old - shrink)
    reason = refusal(old, root(_leaves(old)), size, root(_leaves(size)), [])
    assert reason is not None and "the log shrank" in reason


@given(old=st.integers(1, 200), extra=st.integers(1, 200), flip=st.integers(0, 10**6))
def test_a_forged_proof_is_refused(old, extra, flip) -> None:
    leaves = _leaves(old + extra)
    nodes = MemoryNodes(leaves)
    proof = consistency_proof(nodes, old, old + extra)
    forged = [bytearray(h) for h in proof]
    if forged:
        forged[flip % len(forged)][flip % 32] ^= 1 + flip % 255
    else:
        forged = [bytearray(32)]
    new_root = tree_root(nodes, old + extra)
    reason = refusal(old, root(leaves[:old]), old + extra, new_root, [bytes(h) for h in forged])
    assert reason is not None and "not an append-only extension" in reason
