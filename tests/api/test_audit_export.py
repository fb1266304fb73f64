"""`GET /v1/audit/export` streams its bundle line by line and refuses (422, nothing
signed) a range holding more than `audit_export_max_events` events."""

from __future__ import annotations

import psycopg

from projections.audit.bundle_verify import Policy, verify_bundle
from projections.audit.note import Ed25519Verifier
from tests.api.conftest import Api

API_SETTINGS = {"audit_export_max_events": 6}


def _verified(api: Api, lines: list[str]) -> int:
    key = api.get("/v1/audit/public-key", role="auditor").json()["verifier_key"]
    report = verify_bundle(lines, Policy(Ed25519Verifier.from_vkey(key)))
    assert report.ok, report.problems
    return int(report.events)


def _checkpoints(api: Api) -> int:
    with psycopg.connect(api.url) as conn:
        row = conn.execute("SELECT count(*) FROM audit_checkpoint_notes").fetchone()
    assert row is not None
    return int(row[0])


def test_a_bundle_is_streamed_and_verifies_offline(api: Api, tree: dict[str, str]) -> None:
    api.member(tree["grid"])
    params = {"from": 2, "to": 4, "min_position": api.last}
    headers = api.headers(role="auditor")
    with api.client.stream("GET", "/v1/audit/export", params=params, headers=headers) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        assert "content-length" not in answer.headers  # streamed, not built first
        lines = list(answer.iter_lines())
    assert _verified(api, lines) == len(lines) - 1
    header = lines[0]
    assert '"from": 2' in header and '"to": 4' in header


def test_a_range_beyond_the_limit_is_a_422_and_signs_nothing(
    api: Api, tree: dict[str, str]
) -> None:
    api.member(tree["grid"])
    api.get("/v1/audit/export", after=api.last, params={"from": 1, "to": 3}, role="auditor")
    before, signed = api.events(), _checkpoints(api)
    for params in ({"from": 0}, {"from": 1, "to": api.last}):
        answer = api.get("/v1/audit/export", after=api.last, params=params, role="auditor")
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["rule"] == "audit.export_range"
        assert "at most 6 (audit_export_max_events)" in problem["detail"]
    assert (api.events(), _checkpoints(api)) == (before, signed)
    near_end = {"from": api.last - 3}
    answer = api.get("/v1/audit/export", after=api.last, params=near_end, role="auditor")
    assert answer.status_code == 200, answer.text
    assert _verified(api, answer.text.splitlines()) >= 4
