"""`verify` finds tampering done directly in PostgreSQL and names the event."""

from __future__ import annotations

import base64
import json

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.application import Governance
from domain.commands.base import Meta
from projections.audit import bundle, checkpoints
from projections.audit.merkle_log import MerkleLog
from projections.audit.verify import verify_store

KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def logged(governance: Governance, admin: Meta, tree, project, db: psycopg.Connection) -> list:
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
    checkpoints.make(db, KEY)
    return db.execute(
        "SELECT notification_id, originator_id FROM governance_events ORDER BY notification_id"
    ).fetchall()


def test_an_untouched_log_verifies_against_its_checkpoint(logged, db) -> None:
    report = verify_store(db, KEY.public_key())
    assert report.ok, report.problems
    assert report.events == len(logged) == report.checkpoint.tree_size


def test_an_edited_payload_is_named_by_position_and_event(logged, db) -> None:
    position, aggregate = logged[9]
    db.execute(
        "UPDATE governance_events SET state = replace(convert_from(state, 'UTF8'),"
        " 'resident', 'retiree')::bytea WHERE notification_id = %s",
        (position,),
    )
    report = verify_store(db, KEY.public_key())
    assert not report.ok
    assert report.problems[0].startswith(f"position {position} (Member.Registered of {aggregate}")


def test_a_deleted_event_is_named(logged, db) -> None:
    position, _ = logged[5]
    db.execute("DELETE FROM governance_events WHERE notification_id = %s", (position,))
    report = verify_store(db, KEY.public_key())
    assert report.problems[0].startswith(f"position {position} is missing")


def test_two_swapped_events_are_named_at_the_first(logged, db) -> None:
    first, second = logged[3][0], logged[8][0]
    db.execute(
        "UPDATE governance_events AS e SET state = o.state FROM governance_events AS o"
        " WHERE (e.notification_id, o.notification_id) IN ((%s, %s), (%s, %s))",
        (first, second, second, first),
    )
    report = verify_store(db, KEY.public_key())
    assert report.problems[0].startswith(f"position {first} (")


def test_a_checkpoint_signed_with_another_key_is_refused(logged, db) -> None:
    checkpoints.make(db, Ed25519PrivateKey.generate())
    report = verify_store(db, KEY.public_key())
    assert not report.ok
    assert "not signed by this server's key" in report.problems[0]


def test_a_rewritten_tree_is_caught_by_the_signed_root(logged, db, project) -> None:
    db.execute(
        "UPDATE governance_events SET state = replace(convert_from(state, 'UTF8'),"
        " 'resident', 'retiree')::bytea WHERE notification_id = %s",
        (logged[-1][0],),
    )
    db.execute("TRUNCATE merkle_leaves_g1, merkle_nodes_g1")
    db.execute("UPDATE projection_state SET position = 0 WHERE name = 'merkle'")
    report = verify_store(db, KEY.public_key())
    assert "the checkpoint covers" in report.problems[0]  # until the tree is rebuilt
    project(MerkleLog())
    report = verify_store(db, KEY.public_key())
    assert any("signed checkpoint's root" in p for p in report.problems), report.problems


def test_a_checkpoint_text_is_the_documented_four_lines(logged, db) -> None:
    checkpoint = checkpoints.latest(db)
    lines = checkpoint.text().splitlines()
    assert lines[0] == "gridledger checkpoint v1"
    assert lines[1] == f"tree_size {len(logged)}"
    assert lines[2].startswith("root_hash ") and len(lines[2]) == 10 + 64
    assert checkpoints.Checkpoint.from_json(checkpoint.to_json()) == checkpoint


def test_an_exported_bundle_verifies_offline_and_names_a_tampered_event(logged, db) -> None:
    lines = list(bundle.export(db, KEY, logged[4][0], logged[10][0]))
    report = bundle.verify_bundle(lines, KEY.public_key())
    assert report.ok, report.problems
    assert report.events == 7
    assert report.checkpoint.tree_size == 11
    event = json.loads(lines[5])
    state = base64.b64decode(event["state"]).replace(b"resident", b"retiree")
    event["state"] = base64.b64encode(state).decode()
    tampered = [*lines[:5], json.dumps(event), *lines[6:]]
    report = bundle.verify_bundle(tampered, KEY.public_key())
    assert report.problems == [
        f"position {event['position']} (Member.Registered of {event['aggregate_id']} v1)"
        " is not the event the signed log recorded"
    ]
    other = Ed25519PrivateKey.generate().public_key()
    assert "not signed by key" in bundle.verify_bundle(lines, other).problems[0]
    assert not bundle.verify_bundle([*lines[:3], *lines[4:]], KEY.public_key()).ok
