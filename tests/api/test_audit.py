"""The audit trail over HTTP: auditors and admins only; proofs verify; states then."""

from __future__ import annotations

import base64
import json

from projections.audit import checkpoints
from projections.audit.bundle_verify import Policy, verify_bundle
from projections.audit.merkle_tree import verify_consistency, verify_inclusion
from projections.audit.note import Ed25519Verifier
from tests.api.conftest import Api


def test_only_auditors_and_admins_read_the_audit_trail(api: Api, tree) -> None:
    for path in ("/v1/audit/events", "/v1/audit/public-key", "/v1/audit/checkpoints/latest"):
        assert api.get(path, role="resident", sub="r1").status_code == 403
        assert api.get(path, role="community_staff").status_code == 403
    assert api.get("/v1/audit/public-key", role="auditor").status_code == 200
    assert api.client.get("/v1/audit/events").status_code == 401


def test_the_log_pages_in_order_and_a_stream_shows_who_and_when(api: Api, tree) -> None:
    member = api.member(tree["grid"], party_member=False)
    api.clock.advance(minutes=5)
    api.ok("POST", f"/v1/members/{member}/report-ins", {"community": tree["community"]})
    first = api.read("/v1/audit/events", api.last, params={"limit": 3}, role="auditor")
    assert [e["position"] for e in first["items"]] == [1, 2, 3]
    after = first["next_cursor"]
    second = api.read(
        "/v1/audit/events", api.last, params={"after": after, "limit": 3}, role="auditor"
    )
    assert second["items"][0]["position"] == 4
    stream = api.read(f"/v1/audit/streams/{member}", api.last, role="auditor")
    assert [e["version"] for e in stream["items"]] == [1, 2]
    assert stream["items"][0]["actor_role"] == "admin"
    assert stream["items"][0]["recorded_at"]
    assert api.get(f"/v1/audit/streams/{tree['grid']}", role="auditor").status_code == 422


def test_the_state_then_equals_replaying_the_events_up_to_it(api: Api, tree) -> None:
    member = api.member(tree["grid"], party_member=False)
    api.clock.advance(minutes=5)
    api.ok("POST", f"/v1/members/{member}/report-ins", {"community": tree["community"]})
    first = api.read(f"/v1/audit/streams/{member}/state", api.last, params={"version": 1})
    now = api.read(f"/v1/audit/streams/{member}/state", api.last, params={"version": 2})
    assert first["version"] == 1 and now["version"] == 2
    assert first["state"]["report_ins"] == [] != now["state"]["report_ins"]
    recorded = api.read(f"/v1/audit/streams/{member}", api.last)["items"][0]["recorded_at"]
    at = api.read(f"/v1/audit/streams/{member}/state", api.last, params={"at": recorded})
    assert at == first
    assert api.get(f"/v1/audit/streams/{member}/state", params={"version": 9}).status_code == 404
    assert api.get(f"/v1/audit/streams/{member}/state").status_code == 422


def test_proofs_verify_against_a_signed_checkpoint(api: Api, tree) -> None:
    api.member(tree["grid"], party_member=False)
    api.get("/v1/audit/proofs/consistency", after=api.last, params={"from_size": 1, "to_size": 1})
    signed = api.client.post("/v1/audit/checkpoints", headers=api.headers(role="auditor"))
    assert signed.status_code == 201
    checkpoint = checkpoints.read_kept(json.dumps(signed.json()))
    key = api.get("/v1/audit/public-key", role="auditor").json()
    pinned = Ed25519Verifier.from_vkey(key["verifier_key"])
    assert (
        key["verifier_key"]
        == f"{key['origin']}+{key['key_id']}+"
        + base64.b64encode(b"\x01" + base64.b64decode(key["public_key"])).decode()
    )
    checkpoints.open_checkpoint(checkpoint, pinned)
    latest = api.get("/v1/audit/checkpoints/latest", role="auditor").json()
    assert latest["tree_size"] == checkpoint.tree_size
    note = api.get("/v1/audit/checkpoint", role="auditor")
    assert note.headers["content-type"] == "text/plain; charset=utf-8"
    assert note.text == latest["note"] == checkpoint.note
    assert note.text.startswith(f"{key['origin']}\n{checkpoint.tree_size}\n")
    size = checkpoint.tree_size
    proof = api.get(
        "/v1/audit/proofs/inclusion", params={"position": 3, "tree_size": size}, role="auditor"
    ).json()
    hashes = [bytes.fromhex(h) for h in proof["proof"]]
    leaf = bytes.fromhex(proof["leaf_hash"])
    assert verify_inclusion(leaf, proof["leaf_index"], size, hashes, checkpoint.root_hash)
    consistency = api.get(
        "/v1/audit/proofs/consistency", params={"from_size": 2, "to_size": size}, role="auditor"
    ).json()
    hashes = [bytes.fromhex(h) for h in consistency["proof"]]
    old = bytes.fromhex(consistency["from_root"])
    assert verify_consistency(2, size, old, checkpoint.root_hash, hashes)
    too_far = {"position": 3, "tree_size": size + 1000}
    assert api.get("/v1/audit/proofs/inclusion", params=too_far).status_code == 404


def test_an_exported_bundle_verifies_offline(api: Api, tree) -> None:
    api.member(tree["grid"], party_member=False)
    response = api.get("/v1/audit/export", after=api.last, params={"from": 2}, role="auditor")
    assert response.status_code == 200
    lines = response.text.splitlines()
    key = api.get("/v1/audit/public-key", role="auditor").json()["verifier_key"]
    report = verify_bundle(lines, Policy(Ed25519Verifier.from_vkey(key)))
    assert report.ok, report.problems
    assert report.events == len(lines) - 1


def test_a_refused_checkpoint_is_loud_until_one_is_signed_again(api: Api, tree) -> None:
    """A stored checkpoint by the server's key that the tree does not extend (here
    forged with the key, at the tree's size, another root): the signer refuses with 409,
    /readyz answers 503 naming it, the metric says 1; once the forgery is gone, the
    next signature clears it."""
    import psycopg

    from projections.audit.note import sign_note
    from projections.audit.tlog_checkpoint import format_checkpoint

    api.member(tree["grid"], party_member=False)
    signed = api.client.post("/v1/audit/checkpoints", headers=api.headers(role="auditor"))
    assert signed.status_code == 201, signed.text
    size = signed.json()["tree_size"]
    key = api.client.app.state.signer.key
    forged = checkpoints.from_note(
        sign_note(format_checkpoint(key.name, size, b"\x05" * 32), [key]).decode()
    )
    with psycopg.connect(api.url, autocommit=True) as conn:
        stored = checkpoints.store(conn, forged)
    refused = api.client.post("/v1/audit/checkpoints", headers=api.headers(role="auditor"))
    assert refused.status_code == 409
    assert refused.json()["detail"].endswith("; refusing to sign")
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "failed: checkpoints"
    assert ready.json()["checkpoints"].startswith("checkpoint refused at tree size ")
    assert "gridledger_checkpoint_refused 1" in api.get("/metrics").text
    with psycopg.connect(api.url, autocommit=True) as conn:
        conn.execute("DELETE FROM audit_checkpoint_notes WHERE id = %s", (stored.id,))
    again = api.client.post("/v1/audit/checkpoints", headers=api.headers(role="auditor"))
    assert again.status_code == 201
    assert api.client.get("/readyz").status_code == 200
    assert "gridledger_checkpoint_refused 0" in api.get("/metrics").text
