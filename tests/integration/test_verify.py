"""`verify` finds tampering done directly in PostgreSQL and names the event; the
signer refuses a tree that does not extend what it signed; bundles verify offline
against a pinned key and every forgery of one is refused, named."""

from __future__ import annotations

import base64
import json

import psycopg
import pytest

from domain.application import Governance
from domain.commands.base import Meta
from projections.audit import bundle, checkpoints
from projections.audit.bundle_verify import Policy, verify_bundle
from projections.audit.merkle_log import MerkleLog
from projections.audit.note import Ed25519Signer, sign_note
from projections.audit.signer import LogSigner, RefusedError, refused, sign, sign_or_record
from projections.audit.tlog_checkpoint import format_checkpoint
from projections.audit.verify import verify_store

KEY = Ed25519Signer.generate("test.example/log")
POLICY = Policy(KEY.verifier())


@pytest.fixture
def signer(tmp_path) -> LogSigner:
    return LogSigner(KEY, tmp_path / "signer_state")


@pytest.fixture
def logged(
    governance: Governance, admin: Meta, tree, project, db: psycopg.Connection, signer
) -> list:
    for i in range(12):
        governance.register_member(
            admin,
            name=f"居民{i}",
            phone="13800138000",
            kind="resident",
            party_member=False,
            home_grid=tree["grid"],
        )
    project(MerkleLog())
    sign_or_record(db, signer)
    return db.execute(
        "SELECT notification_id, originator_id FROM governance_events ORDER BY notification_id"
    ).fetchall()


def _edit(db: psycopg.Connection, position: int) -> None:
    db.execute(
        "UPDATE governance_events SET state = replace(convert_from(state, 'UTF8'),"
        " 'resident', 'retiree')::bytea WHERE notification_id = %s",
        (position,),
    )


def _rebuild_merkle(db: psycopg.Connection, project) -> None:
    db.execute("TRUNCATE merkle_leaves_g1, merkle_nodes_g1")
    db.execute("UPDATE projection_state SET position = 0 WHERE name = 'merkle'")
    project(MerkleLog())


def test_an_untouched_log_verifies_against_every_checkpoint(
    logged, db, signer, governance, admin, project
) -> None:
    governance.register_member(
        admin, name="x", phone="13800138000", kind="resident", party_member=False, home_grid=None
    )
    project(MerkleLog())
    sign_or_record(db, signer)
    report = verify_store(db, KEY.verifier())
    assert report.ok, report.problems
    assert report.events == len(logged) + 1 == report.checkpoint.tree_size
    assert report.checkpoints == 2


def test_an_edited_payload_is_named_by_position_and_event(logged, db) -> None:
    position, aggregate = logged[9]
    _edit(db, position)
    report = verify_store(db, KEY.verifier())
    assert not report.ok
    assert report.problems[0].startswith(f"position {position} (Member.Registered of {aggregate}")


def test_a_deleted_event_is_named(logged, db) -> None:
    position, _ = logged[5]
    db.execute("DELETE FROM governance_events WHERE notification_id = %s", (position,))
    report = verify_store(db, KEY.verifier())
    assert report.problems[0].startswith(f"position {position} is missing")


def test_two_swapped_events_are_named_at_the_first(logged, db) -> None:
    first, second = logged[3][0], logged[8][0]
    db.execute(
        "UPDATE governance_events AS e SET state = o.state FROM governance_events AS o"
        " WHERE (e.notification_id, o.notification_id) IN ((%s, %s), (%s, %s))",
        (first, second, second, first),
    )
    report = verify_store(db, KEY.verifier())
    assert report.problems[0].startswith(f"position {first} (")


def test_a_checkpoint_signed_with_another_key_is_refused(logged, db, tmp_path) -> None:
    other = LogSigner(Ed25519Signer.generate("test.example/log"), tmp_path / "other")
    db.execute("DELETE FROM audit_checkpoint_notes")
    sign(db, other)
    report = verify_store(db, KEY.verifier())
    assert not report.ok
    assert "not signed by the pinned key test.example/log+" in report.problems[0]


def test_deleted_checkpoints_fail_verify(logged, db) -> None:
    db.execute("DELETE FROM audit_checkpoint_notes")
    report = verify_store(db, KEY.verifier())
    assert report.problems == ["no signed checkpoint is stored: nothing ties the log to the key"]


def test_an_older_checkpoint_is_checked_too(logged, db, project, signer, governance, admin) -> None:
    """Every stored checkpoint, not only the latest: a forged older one is caught."""
    body = format_checkpoint(KEY.name, 5, b"\x07" * 32)
    forged = checkpoints.from_note(sign_note(body, [KEY]).decode())
    checkpoints.store(db, forged)
    report = verify_store(db, KEY.verifier())
    assert report.problems == [
        "the events up to leaf 4 do not hash to the signed checkpoint's root"
        f" {'07' * 32} (tree size 5)"
    ]


def test_rewritten_history_is_not_signed_and_says_so(logged, db, project, signer) -> None:
    """Edit an event, rebuild the Merkle projection, ask for a signature: refused, and
    the refusal stands in the database for /readyz and /metrics."""
    _edit(db, logged[-1][0])
    _rebuild_merkle(db, project)
    with pytest.raises(RefusedError) as refusal:
        sign_or_record(db, signer)
    assert "another root than the signed checkpoint" in refusal.value.reason
    assert "another root than the signed checkpoint" in refused(db)
    report = verify_store(db, KEY.verifier())
    assert any("signed checkpoint's root" in p for p in report.problems), report.problems


def test_the_signer_remembers_outside_the_database(logged, db, project, signer) -> None:
    """Delete every checkpoint, rewrite history: the signer's state file still refuses."""
    db.execute("DELETE FROM audit_checkpoint_notes")
    _edit(db, logged[-3][0])
    _rebuild_merkle(db, project)
    with pytest.raises(RefusedError) as refusal:
        sign_or_record(db, signer)
    assert "another root than the signed checkpoint" in refusal.value.reason
    assert checkpoints.latest(db) is None


def test_a_shrunk_log_is_not_signed(logged, db, signer) -> None:
    db.execute("DELETE FROM merkle_leaves_g1 WHERE leaf_index >= 6")
    with pytest.raises(RefusedError, match="6 leaves, fewer than the 19 of the last signed"):
        sign(db, signer)


def test_a_checkpoint_is_a_c2sp_signed_note(logged, db) -> None:
    checkpoint = checkpoints.latest(db)
    text, signature = checkpoint.note.split("\n\n")
    origin, size, root = text.split("\n")
    assert (origin, size) == ("test.example/log", str(len(logged)))
    assert base64.b64decode(root) == checkpoint.root_hash
    assert signature.startswith("— test.example/log ")
    raw = base64.b64decode(signature.split(" ")[2])
    assert raw[:4] == KEY.key_id.to_bytes(4, "big") and len(raw) == 68
    assert checkpoints.read_kept(json.dumps(checkpoint.to_json())).note == checkpoint.note
    assert checkpoints.read_kept(checkpoint.signed_note()).root_hash == checkpoint.root_hash


# --- bundles -----------------------------------------------------------------------------


def _bundle(db, signer, first, last=None, since=None) -> list[str]:
    return list(bundle.export(db, signer, first, last, since))


def _line(lines: list[str], n: int, **changes) -> list[str]:
    record = json.loads(lines[n]) | changes
    return [*lines[:n], json.dumps(record), *lines[n + 1 :]]


def _header(lines: list[str], **changes) -> list[str]:
    return _line(lines, 0, **changes)


def test_a_bundle_verifies_offline_and_names_the_range(logged, db, signer) -> None:
    first, last = logged[4][0], logged[9][0]
    lines = _bundle(db, signer, first, last)
    report = verify_bundle(lines, POLICY)
    assert report.ok, report.problems
    assert report.events == 6
    assert report.verified == (
        f"positions {first}..{last}: 6 events at positions {first}..{last}, leaves 4..9,"
        f" of the tree of 19 leaves signed by test.example/log+{KEY.key_id:08x}"
    )
    between = verify_bundle(_bundle(db, signer, first + 1, last - 1), POLICY)
    assert between.ok and between.events == 4, between.problems  # edge leaves around it


def test_a_bundle_resigned_with_a_new_key_is_refused(logged, db, tmp_path) -> None:
    forger = LogSigner(Ed25519Signer.generate("test.example/log"), tmp_path / "forger")
    db.execute("DELETE FROM audit_checkpoint_notes")
    lines = _bundle(db, forger, logged[0][0])
    report = verify_bundle(lines, POLICY)
    assert report.problems[0].startswith(
        f"the checkpoint is not signed by the pinned key test.example/log+{KEY.key_id:08x}"
    )


def test_a_readable_field_beside_the_record_is_refused(logged, db, signer) -> None:
    lines = _bundle(db, signer, logged[0][0])
    edited = _line(lines, 3, event={"name": "someone else"})
    report = verify_bundle(edited, POLICY)
    assert report.problems == [
        "line 4 carries fields that are not part of the hashed record: event"
    ]


def test_a_record_out_of_range_is_refused_by_name(logged, db, signer) -> None:
    lines = _bundle(db, signer, logged[0][0])
    report = verify_bundle(_line(lines, 2, version=2**64), POLICY)
    assert report.problems[0].startswith("line 3 is not a leaf record (")


def test_an_edited_state_is_named(logged, db, signer) -> None:
    lines = _bundle(db, signer, logged[0][0])
    event = json.loads(lines[-2])
    state = base64.b64decode(event["state"]).replace(b"resident", b"retiree")
    n = len(lines) - 2
    report = verify_bundle(_line(lines, n, state=base64.b64encode(state).decode()), POLICY)
    assert report.problems == [
        f"position {event['position']} (Member.Registered of {event['aggregate_id']} v1)"
        " is not the event the signed log recorded: its listed leaf hash is not the hash of"
        " its record"
    ]
    unlisted = [
        json.dumps({k: v for k, v in json.loads(x).items() if k != "leaf"}) for x in lines[1:]
    ]
    tampered = _line([lines[0], *unlisted], n, state=base64.b64encode(state).decode())
    assert (
        "do not hash to a tree that the signed checkpoint"
        in verify_bundle(tampered, POLICY).problems[0]
    )


def test_leading_events_folded_into_the_prefix_are_refused(logged, db, signer, project) -> None:
    """Export from leaf 0, then hide leaves 0-2 in the prefix and drop their lines."""
    from projections.audit.merkle_store import StoredTree

    lines = _bundle(db, signer, logged[0][0])
    peaks = [[level, h.hex()] for level, h in StoredTree(db).peaks(3)]
    folded = _header(lines, first_leaf=3, prefix=peaks)
    folded = [folded[0], *folded[4:]]
    report = verify_bundle(folded, POLICY)
    assert report.problems == [
        f"the bundle starts at leaf 3 (position {logged[3][0]}) with no edge leaf before"
        f" position {logged[0][0]}: events of the range may be folded into its prefix"
    ]


def test_a_malformed_prefix_is_refused(logged, db, signer) -> None:
    lines = _bundle(db, signer, logged[5][0])
    header = json.loads(lines[0])
    report = verify_bundle(_header(lines, prefix=list(reversed(header["prefix"]))), POLICY)
    assert report.problems == [
        "the prefix's peaks (levels [0, 2]) are not those of 5 leaves (levels [2, 0])"
    ]


def test_a_truncated_range_is_refused(logged, db, signer, tmp_path) -> None:
    """Drop the last events and swap in an older, smaller signed checkpoint."""
    lines = _bundle(db, signer, logged[0][0], logged[15][0])
    small = sign_note(format_checkpoint(KEY.name, 8, _root(db, 8)), [KEY]).decode()
    cut = _header(lines[:9], checkpoint=small)
    report = verify_bundle(cut, POLICY)
    assert report.problems == [
        f"the bundle ends at position {logged[7][0]}, before position {logged[15][0]},"
        " and shows no leaf after it: the range asked for is cut short"
    ]
    to_end = _header(_bundle(db, signer, logged[0][0])[:9], checkpoint=small, to=None)
    assert verify_bundle(to_end, POLICY).ok  # what it proves: the tree of 8, named
    assert "the tree of 8 leaves" in verify_bundle(to_end, POLICY).verified
    dropped = _bundle(db, signer, logged[0][0])[:-1]
    assert verify_bundle(dropped, POLICY).problems == [
        "the bundle stops at leaf 18 of the signed tree of 19: the range to the end is cut short"
    ]


def _root(db, size: int) -> bytes:
    from projections.audit.merkle_store import StoredTree

    return StoredTree(db).root(size)


def test_a_bundle_proves_it_extends_a_kept_checkpoint(
    logged, db, signer, governance, admin, project
) -> None:
    kept = checkpoints.latest(db)
    governance.register_member(
        admin, name="y", phone="13800138000", kind="resident", party_member=False, home_grid=None
    )
    project(MerkleLog())
    lines = _bundle(db, signer, logged[6][0], since=kept.tree_size)
    report = verify_bundle(lines, POLICY, since=kept)
    assert report.ok, report.problems
    assert report.checkpoint.tree_size == 20
    assert verify_bundle(_bundle(db, signer, logged[6][0]), POLICY, since=kept).problems == [
        "the bundle carries no consistency proof from the kept checkpoint of 19 leaves"
        " (export it with --since)"
    ]
    body = format_checkpoint(KEY.name, 19, b"\x01" * 32)
    fork = checkpoints.from_note(sign_note(body, [KEY]).decode())
    assert verify_bundle(lines, POLICY, since=fork).problems == [
        "the signed checkpoint of 20 leaves is not an append-only extension of the kept"
        " checkpoint of 19 leaves"
    ]
