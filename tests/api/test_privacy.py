"""Personal data (issue 16): sealed in the log, masked by role, read in clear only for a
stated reason (recorded), erased with a signed receipt, and then found nowhere, while
every proof, the old bundle and `verify` still pass."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from psycopg import sql

from api.http.routes.privacy import canonical
from api.reports.data import assemble
from api.reports.render import render_html
from domain.personal_data import ERASED
from projections.audit import checkpoints
from projections.audit.bundle_verify import Policy, verify_bundle
from projections.audit.merkle_tree import verify_consistency, verify_inclusion
from projections.audit.note import Ed25519Verifier
from projections.audit.verify import verify_store
from projections.engine.batch import physical
from projections.engine.rebuild import event_mapper, rebuild
from projections.registry import all_projections
from tests.api.conftest import Api
from tests.readside import all_rows

NAME = "隐私测试王五"
PHONE = "13987650123"
DESCRIPTION = "王五家楼道漏水请尽快处理"
ADDRESS = "幸福路 88 号 3 单元"
COMMENT = "王五对处理很满意"
SECRETS = (NAME, PHONE, DESCRIPTION, ADDRESS, COMMENT)
STAFF = {"role": "community_staff", "sub": "staff:p", "scope": "HG-WH-BH"}
BASIS = "PIPL Art. 47(1): the resident withdrew consent (request 2026-118)"


def _resident(member: str) -> dict[str, str]:
    return {"role": "resident", "sub": member, "scope": "HG-WH-BH"}


@pytest.fixture(scope="module")
def person(api: Api, tree: dict[str, str]) -> dict[str, Any]:
    """A member who reported a ticket (with an address), rated its handling, handled it
    as the assignee (a worker in the report) and earned points (the leaderboard)."""
    member = api.member(tree["grid"], name=NAME, phone=PHONE)
    body = {"category": "环境卫生", "description": DESCRIPTION, "grid": tree["grid"],
            "source": "resident", "reporter_member_id": member,
            "location": {"address": ADDRESS, "lat": 39.93, "lon": 119.6}}  # fmt: skip
    ticket = api.ok("POST", "/v1/tickets", body)["id"]
    for action, payload in (
        ("accept", None),
        ("dispatch", {"level": "grid", "assignee": member}),
        ("respond", {"note": "到场"}),
        ("resolve", {"resolution": "已修复"}),
    ):
        api.ok("POST", f"/v1/tickets/{ticket}/{action}", payload)
    rating = {"satisfaction": "satisfied", "comment": COMMENT}
    api.ok("POST", f"/v1/tickets/{ticket}/rate", rating, **_resident(member))
    rule = {"description": "清扫", "points": 5, "kind": "award", "requires_approval": False}
    api.ok("PUT", f"/v1/jurisdictions/{tree['community']}/rulebook/rules/sweep", rule)
    award = {"member_id": member, "community": tree["community"], "rule_code": "sweep",
             "source": {"kind": "inspection", "id": "p-1"}}  # fmt: skip
    api.ok("POST", "/v1/points/awards", award, **STAFF)
    before = api.get("/v1/audit/export", after=api.last, params={"from": 0}, role="auditor")
    assert before.status_code == 200
    return {"member": member, "ticket": ticket, "bundle": before.text.splitlines(),
            "size": len(before.text.splitlines()) - 1}  # fmt: skip


def _found_in_tables(url: str, secrets: tuple[str, ...]) -> dict[str, set[str]]:
    """Which of `secrets` each table of the database holds, searched in every value
    (bytea as raw bytes: the stored events, snapshots, keys)."""
    hits: dict[str, set[str]] = {}
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]  # fmt: skip
        for table in tables:
            query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))
            for row in conn.execute(query):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        raw = bytes(value)
                        found = {s for s in secrets if s.encode() in raw}
                    else:
                        text = str(value)
                        found = {s for s in secrets if s in text}
                    if found:
                        hits.setdefault(table, set()).update(found)
    return hits


def _files(api: Api, community: str, who: dict[str, str] | None = None) -> list[bytes]:
    """The leaderboard as CSV and as XLSX (its parts unzipped), and the assessment
    report's HTML."""
    who = who or {}
    found = []
    for fmt in ("csv", "xlsx"):
        params = {"jurisdiction": community, "format": fmt}
        response = api.get("/v1/points/leaderboard", after=api.last, params=params, **who)
        assert response.status_code == 200, response.text
        if fmt == "xlsx":
            with zipfile.ZipFile(io.BytesIO(response.content)) as book:
                found += [book.read(name) for name in book.namelist()]
        else:
            found.append(response.content)
    with psycopg.connect(api.url, autocommit=True) as conn:
        today = date.today()
        data = assemble(conn, "HG", today - timedelta(days=30), today + timedelta(days=2), None)
    found.append(render_html(data).encode())
    return found


def _audit_answers(api: Api, person: dict[str, Any]) -> list[bytes]:
    paths = [f"/v1/audit/streams/{person['member']}", f"/v1/audit/streams/{person['ticket']}",
             f"/v1/audit/erasures/{person['member']}", "/v1/audit/personal-data-reads"]  # fmt: skip
    answers = [api.get("/v1/audit/events", after=api.last, params={"limit": 500}).content]
    answers += [api.get(p, after=api.last).content for p in paths]
    for aggregate in (person["member"], person["ticket"]):
        state = f"/v1/audit/streams/{aggregate}/state"
        answers.append(api.get(state, after=api.last, params={"version": 1}).content)
    answers.append(api.get("/v1/audit/export", after=api.last, params={"from": 0}).content)
    return answers


def test_the_log_holds_personal_data_only_sealed(api: Api, person: dict[str, Any]) -> None:
    hits = _found_in_tables(api.url, SECRETS)
    assert "governance_events" not in hits
    assert "audit_journal" not in hits
    tables = {table.split("_g")[0]: found for table, found in hits.items()}  # a generation's
    assert tables == {"members": {NAME, PHONE}, "tickets": {DESCRIPTION, ADDRESS, COMMENT}}
    assert all(not any(s.encode() in line.encode() for s in SECRETS) for line in person["bundle"])


def test_the_phone_is_masked_for_every_role_that_does_not_need_it(
    api: Api, person: dict[str, Any]
) -> None:
    path = f"/v1/members/{person['member']}"
    masked = "139****0123"
    for role in ("admin", "auditor", "evaluator"):
        assert api.read(path, api.last, role=role)["phone"] == masked, role
        listed = api.read("/v1/members", api.last, params={"limit": 500}, role=role)["items"]
        assert {m["phone"] for m in listed if m["id"] == person["member"]} == {masked}
    assert api.read(path, api.last, **STAFF)["phone"] == PHONE
    grid_worker = {"role": "grid_worker", "sub": "staff:gw-p", "scope": "HG-WH-BH-01"}
    assert api.read(path, api.last, **grid_worker)["phone"] == PHONE
    assert api.read(path, api.last, **_resident(person["member"]))["phone"] == PHONE
    assert api.read(path, api.last)["name"] == NAME


def test_evaluators_read_no_description_or_address_of_a_members_ticket(
    api: Api, person: dict[str, Any]
) -> None:
    path = f"/v1/tickets/{person['ticket']}"
    assessed = api.read(path, api.last, role="evaluator")
    assert (assessed["description"], assessed["location"]["address"]) == ("withheld",) * 2
    assert assessed["location"]["lat"] == 39.93
    for who in ({"role": "auditor"}, STAFF, _resident(person["member"])):
        handled = api.read(path, api.last, **who)
        assert (handled["description"], handled["location"]["address"]) == (DESCRIPTION, ADDRESS)
    listed = api.read("/v1/tickets", api.last, params={"limit": 500}, role="evaluator")
    assert DESCRIPTION not in str(listed)


def test_no_endpoint_shows_auditors_or_evaluators_a_phone_nor_evaluators_what_was_written(
    api: Api, tree: dict[str, str], person: dict[str, Any]
) -> None:
    member, ticket, community = person["member"], person["ticket"], tree["community"]
    paths = [f"/v1/members/{member}", "/v1/members", f"/v1/jurisdictions/{community}/roster",
             "/v1/points/leaderboard", f"/v1/points/accounts/{member}/ledger",
             f"/v1/tickets/{ticket}", "/v1/tickets", f"/v1/tickets/{ticket}/timeline"]  # fmt: skip
    period = {"from": "2000-01-01", "to": "2100-01-01"}
    for role in ("auditor", "evaluator"):
        answers = [api.get(p, after=api.last, params={"limit": 500}, role=role) for p in paths]
        answers.append(api.get(f"/v1/scorecards/workers/{member}", params=period, role=role))
        assert [a.status_code for a in answers] == [200] * len(answers), role
        files = _files(api, community, {"role": role})
        texts = [a.content for a in answers] + files
        if role == "auditor":
            texts += _audit_answers(api, person)
        assert not any(PHONE.encode() in t for t in texts), role
        if role == "evaluator":
            assert not any(s.encode() in t for t in texts for s in (DESCRIPTION, ADDRESS, COMMENT))
    timeline = api.read(f"/v1/tickets/{ticket}/timeline", api.last, **STAFF)
    assert DESCRIPTION not in str(timeline)  # the log as stored: sealed, for every role


def test_clear_data_is_read_only_with_a_reason_and_every_read_is_recorded(
    api: Api, person: dict[str, Any]
) -> None:
    path = f"/v1/audit/personal-data/{person['member']}"
    events = api.events()
    refused = api.get(path, role="auditor")
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert api.get(path, params={"reason": "x"}, role="auditor").status_code == 422
    for role in ("evaluator", "community_staff", "resident"):
        assert api.get(path, params={"reason": "curious, sorry"}, role=role).status_code == 403
    assert api.events() == events
    reason = "投诉核实: 居民来电要求更正联系方式"
    answer = api.get(path, params={"reason": reason}, role="auditor", sub="auditor-7").json()
    assert (answer["name"], answer["phone"], answer["erased"]) == (NAME, PHONE, False)
    assert api.events() == events + 1
    api.last = max(api.last, answer["read_position"])
    reads = api.read("/v1/audit/personal-data-reads", api.last,
                     params={"subject_id": person["member"]})["items"]  # fmt: skip
    assert [(r["actor_id"], r["actor_role"], r["reason"], r["fields"]) for r in reads] == [
        ("auditor-7", "auditor", reason, ["name", "phone"])
    ]
    assert reads[0]["position"] == answer["read_position"]


def test_only_an_admin_erases_and_only_with_a_legal_basis(api: Api, person: dict[str, Any]) -> None:
    path = f"/v1/members/{person['member']}/erasure"
    events = api.events()
    elsewhere = {"role": "admin", "scope": "HG-WH-NS"}  # an admin of another community
    for who in ({"role": "auditor"}, {"role": "evaluator"}, STAFF, elsewhere):
        assert api.post(path, {"legal_basis": BASIS}, **who).status_code == 403
    assert api.post(path, {}).status_code == 422
    assert api.post(path, {"legal_basis": " "}).status_code == 422
    assert api.events() == events


def test_an_erased_member_appears_nowhere_and_every_proof_still_passes(
    api: Api, tree: dict[str, str], person: dict[str, Any]
) -> None:
    member = person["member"]
    response = api.post(f"/v1/members/{member}/erasure", {"legal_basis": BASIS})
    assert response.status_code == 201, response.text
    signed = response.json()
    receipt = signed["receipt"]
    api.last = max(api.last, receipt["erasure_position"])
    # The receipt: signed with the checkpoint key, listing the positions, no personal data.
    public = api.get("/v1/audit/public-key", role="auditor").json()
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public["public_key"]))
    key.verify(base64.b64decode(signed["signature"]), canonical(receipt))
    assert signed["key_id"] == public["key_id"]
    assert (receipt["subject_id"], receipt["legal_basis"]) == (member, BASIS)
    stream = api.read(f"/v1/audit/streams/{member}", api.last)["items"]
    ticket_stream = api.read(f"/v1/audit/streams/{person['ticket']}", api.last)["items"]
    reported, rated = ticket_stream[0], ticket_stream[-1]
    assert (reported["event_type"], rated["event_type"]) == ("Reported", "Rated")
    assert receipt["affected_positions"] == sorted(
        [stream[0]["position"], reported["position"], rated["position"]]
    )
    assert not any(s in response.text for s in SECRETS)
    assert api.get(f"/v1/audit/erasures/{member}", role="auditor").json() == signed
    # Nowhere: stored events, every table, audit answers, files, reports, a new bundle.
    api.read(f"/v1/members/{member}", api.last)  # the projections have caught up
    api.read(f"/v1/tickets/{person['ticket']}", api.last)
    assert _found_in_tables(api.url, SECRETS) == {}
    for answer in _audit_answers(api, person) + _files(api, tree["community"]):
        assert not any(s.encode() in answer for s in SECRETS)
    shown = api.read(f"/v1/members/{member}", api.last, **STAFF)
    assert (shown["name"], shown["phone"]) == (ERASED, ERASED) and shown["erased_at"]
    ticket = api.read(f"/v1/tickets/{person['ticket']}", api.last, **STAFF)
    assert (ticket["description"], ticket["location"]["address"]) == (ERASED, ERASED)
    read = api.get(f"/v1/audit/personal-data/{member}", params={"reason": "after erasure"})
    assert (read.json()["name"], read.json()["phone"], read.json()["erased"]) == (
        ERASED, ERASED, True)  # fmt: skip
    # The old bundle, proofs and `verify` pass as before.
    log = Ed25519Verifier.from_vkey(public["verifier_key"])
    report = verify_bundle(person["bundle"], Policy(log))
    assert report.ok, report.problems
    checkpoint = checkpoints.read_kept(
        json.dumps(api.client.post("/v1/audit/checkpoints", headers=api.headers()).json())
    )
    size = checkpoint.tree_size
    proof = api.read("/v1/audit/proofs/inclusion", api.last,
                     params={"position": stream[0]["position"], "tree_size": size})  # fmt: skip
    hashes = [bytes.fromhex(h) for h in proof["proof"]]
    leaf = bytes.fromhex(proof["leaf_hash"])
    assert verify_inclusion(leaf, proof["leaf_index"], size, hashes, checkpoint.root_hash)
    old = person["size"]
    consistency = api.read("/v1/audit/proofs/consistency", api.last,
                           params={"from_size": old, "to_size": size})  # fmt: skip
    old_root = bytes.fromhex(consistency["from_root"])
    assert verify_consistency(
        old, size, old_root, checkpoint.root_hash, [bytes.fromhex(h) for h in consistency["proof"]]
    )
    with psycopg.connect(api.url) as conn:
        assert verify_store(conn, log).ok


def test_a_rebuild_after_the_erasure_yields_the_same_scrubbed_tables(
    api: Api, person: dict[str, Any]
) -> None:
    api.read(f"/v1/members/{person['member']}", api.last)
    api.read(f"/v1/tickets/{person['ticket']}", api.last)
    projections = all_projections()
    with psycopg.connect(api.url, autocommit=True) as db:
        for name, table, order in (("members", "members", "id"), ("tickets", "tickets", "id")):
            generation = rebuild(api.url, event_mapper(), projections[name], activate=False)
            again = all_rows(db, physical(table, generation), order)
            assert again == all_rows(db, table, order), table


def test_an_erased_member_is_refused_further_commands(api: Api, person: dict[str, Any]) -> None:
    member = person["member"]
    events = api.events()
    again = api.post(f"/v1/members/{member}/erasure", {"legal_basis": BASIS})
    assert again.status_code == 409 and again.json()["rule"] == "member.erased"
    body = {"category": "c", "description": "d", "grid": "HG-WH-BH-01", "source": "resident",
            "reporter_member_id": member}  # fmt: skip
    assert api.post("/v1/tickets", body).status_code == 409
    report_in = api.post(f"/v1/members/{member}/report-ins", {"community": "HG-WH-BH"})
    assert report_in.status_code == 409
    assert api.events() == events
