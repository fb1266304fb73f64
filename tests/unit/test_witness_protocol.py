"""c2sp.org/tlog-witness add-checkpoint: the spec's examples and every response code."""

from __future__ import annotations

import pytest

from projections.audit import merkle_tree
from projections.audit.merkle_tree import MemoryNodes, leaf_hash, verify_consistency
from projections.audit.note import Ed25519Signer, open_note, sign_note
from projections.audit.tlog_checkpoint import format_checkpoint
from projections.audit.tlog_cosignature import CosignerKey, cosignature_timestamp
from projections.audit.witness_protocol import (
    SIZE_CONTENT_TYPE,
    LogState,
    MalformedRequestError,
    format_add_checkpoint,
    format_size_body,
    handle_add_checkpoint,
    parse_add_checkpoint,
    parse_cosignature_response,
    parse_size_body,
)
from tests.unit.c2sp_vectors import WITNESS_SPEC_REQUEST, WITNESS_SPEC_RESPONSE


def merkle_tree_hash(entries: list[bytes]) -> bytes:
    return merkle_tree.root(leaf_hash(e) for e in entries)


def consistency_proof(entries: list[bytes], old: int, new: int) -> list[bytes]:
    if old == 0:
        return []  # tlog-witness: the proof from size 0 is empty
    nodes = MemoryNodes([leaf_hash(e) for e in entries[:new]])
    return merkle_tree.consistency_proof(nodes, old, new)


def test_spec_request_parses_and_formats_back_byte_for_byte():
    request = parse_add_checkpoint(WITNESS_SPEC_REQUEST)
    assert request.old_size == 20852014 and len(request.proof) == 4
    assert request.checkpoint_note.startswith(b"example.com/behind-the-sofa\n20852163\n")
    assert (
        format_add_checkpoint(20852014, request.proof, request.checkpoint_note)
        == WITNESS_SPEC_REQUEST
    )


def test_spec_request_proof_is_illustrative():
    """RFC 9162 needs 18 hashes from 20852014 to 20852163; the example shows 4."""
    request = parse_add_checkpoint(WITNESS_SPEC_REQUEST)
    assert not verify_consistency(20852014, 20852163, bytes(32), bytes(32), request.proof)


def test_spec_response_parses():
    sigs = parse_cosignature_response(WITNESS_SPEC_RESPONSE)
    assert [(s.name, s.key_id, len(s.signature)) for s in sigs] == [
        ("witness.example/w1", 0x08CA7EE8, 72),
        ("witness.example/w1", 0x23BAC4A6, 72),
        ("witness.example/w2", 0x016BA2F1, 72),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 5\n",
        b"old 05\n\no\n1\n" + b"A" * 43 + b"=\n\n\xe2\x80\x94 k AAAAAAA=\n",
        b"old -1\n\n",
        b"old  5\n\n",
        b"Old 5\n\n",
        b"old 5 \n\n",
        b"old 18446744073709551616\n\n",
        b"old 1\nAAAA\n\n",  # a 3-byte hash
        b"old 1\n" + b"A" * 43 + b"B\n\n",  # non-canonical base64
        b"old 1\n" + (b"A" * 43 + b"=\n") * 64 + b"\n",
        b"old 0\n\nnot a note\n",
        b"old 0\n\norigin\n1\n" + b"A" * 43 + b"=\n",
        b"old 0\n\norigin\n1\nAAAA\n\n\xe2\x80\x94 k AAAAAAA=\n",  # bad root
    ],
)
def test_malformed_requests(body):
    with pytest.raises(MalformedRequestError):
        parse_add_checkpoint(body)


def test_size_bodies():
    assert format_size_body(20852014) == b"20852014\n"
    assert parse_size_body(b"0\n") == 0
    for bad in (b"012\n", b"12", b"12\n\n", b" 12\n", b"\xef\xbc\x91\n"):
        with pytest.raises(MalformedRequestError):
            parse_size_body(bad)


# --- the handler, against a real log ----------------------------------------------------

ORIGIN = "example.com/log"
LOG = Ed25519Signer(ORIGIN, bytes([1]) * 32)
WITNESS = CosignerKey("witness.example/w1", bytes([2]) * 32)
ENTRIES = [b"entry %d" % i for i in range(40)]


def signed(size: int, entries: list[bytes] = ENTRIES, signer: Ed25519Signer = LOG) -> bytes:
    return sign_note(format_checkpoint(ORIGIN, size, merkle_tree_hash(entries[:size])), [signer])


def submit(old, proof, note, state=None, keys=None):
    body = format_add_checkpoint(old, proof, note)
    latest = {} if state is None else {ORIGIN: state}
    log_keys = {ORIGIN: [LOG.verifier()]} if keys is None else keys
    return handle_add_checkpoint(body, log_keys, latest, [WITNESS], 1700000000)


def state(size: int) -> LogState:
    return LogState(size, merkle_tree_hash(ENTRIES[:size]))


def test_first_checkpoint_is_cosigned_and_recorded():
    response, new = submit(0, [], signed(5))
    assert response.status == 200 and new == state(5)
    opened = open_note(signed(5) + response.body, [WITNESS.verifier()])
    assert [s.name for s in opened.verified] == [WITNESS.name]
    assert cosignature_timestamp(opened.verified[0]) == 1700000000


def test_growing_log_is_cosigned_step_by_step():
    current = None
    for size in (1, 2, 3, 8, 9, 17, 40):
        old = current.size if current else 0
        proof = consistency_proof(ENTRIES, old, size)
        response, current = submit(old, proof, signed(size), current)
        assert response.status == 200 and current == state(size)


def test_same_checkpoint_again_is_cosigned_again():
    response, new = submit(5, [], signed(5), state(5))
    assert response.status == 200 and new == state(5)


def test_unknown_origin_is_404():
    response, new = submit(0, [], signed(5), keys={"other.example/log": [LOG.verifier()]})
    assert response.status == 404 and new is None


def test_no_trusted_signature_is_403():
    stranger = Ed25519Signer(ORIGIN, bytes([3]) * 32)
    assert submit(0, [], signed(5, signer=stranger))[0].status == 403
    forged = signed(5).replace(b"\n5\n", b"\n6\n")
    assert submit(0, [], forged)[0].status == 403


def test_old_size_larger_than_checkpoint_is_400():
    response, new = submit(9, [], signed(5), state(9))
    assert response.status == 400 and new is None


def test_old_size_mismatch_is_409_with_the_size():
    response, new = submit(3, consistency_proof(ENTRIES, 3, 8), signed(8), state(5))
    assert (response.status, response.content_type, response.body) == (
        409,
        SIZE_CONTENT_TYPE,
        b"5\n",
    )
    assert new is None and parse_size_body(response.body) == 5
    assert submit(3, consistency_proof(ENTRIES, 3, 8), signed(8))[0].body == b"0\n"


def test_bad_proof_is_422():
    good = consistency_proof(ENTRIES, 5, 8)
    bad = [bytes([good[0][0] ^ 1]) + good[0][1:], *good[1:]]
    for proof in (bad, good[:-1], [*good, good[0]], []):
        response, new = submit(5, proof, signed(8), state(5))
        assert response.status == 422 and new is None
    assert submit(0, [bytes(32)], signed(8))[0].status == 422  # old 0 needs an empty proof
    assert submit(5, [bytes(32)], signed(5), state(5))[0].status == 422


def test_fork_is_refused():
    forked = list(ENTRIES)
    forked[2] = b"rewritten"
    proof = consistency_proof(forked, 5, 8)
    assert submit(5, proof, signed(8, forked), state(5))[0].status == 422


def test_same_size_other_root_is_409():
    forked = list(ENTRIES)
    forked[0] = b"rewritten"
    response, new = submit(5, [], signed(5, forked), state(5))
    assert (response.status, response.body, new) == (409, b"5\n", None)


def test_malformed_body_is_400():
    log_keys = {ORIGIN: [LOG.verifier()]}
    response, new = handle_add_checkpoint(b"old 0\nnonsense", log_keys, {}, [WITNESS], 1)
    assert response.status == 400 and new is None


def test_extension_lines_are_cosigned():
    body = format_checkpoint(ORIGIN, 5, merkle_tree_hash(ENTRIES[:5]), ["extra"])
    note = sign_note(body, [LOG])
    response, _ = submit(0, [], note)
    assert response.status == 200
    assert open_note(note + response.body, [WITNESS.verifier()]).text == body
