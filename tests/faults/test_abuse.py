"""The hostile requests of issue 15, sent to a real `gridledger serve` by hand: each gets
the answer the README's "Limits and abuse" section promises, never a 5xx (but an honest
503 with Retry-After), and every refused command records no event (the log's head
compared before and after it)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.conftest import drop_database
from tests.faults.procs import SECRET, Gridledger, eventually, free_port, head
from tests.faults.world import World

BIG = 70 * 1024
"""A body over the default limit (64 KiB)."""


def _send(world: World, token: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    before = head(world.gl.url)
    with httpx.Client(base_url=world.server.base, timeout=60) as client:
        response = client.request(method, path, headers=headers, **kwargs)
    world.judge(f"{method} {path}", method, response, before)
    return response


def _cases(world: World) -> list[tuple[str, str | None, str, str, dict[str, Any], set[int]]]:
    """(what, token, method, path, request, the statuses that are right)."""
    t = world.tokens
    district_admin = world.gl.token("admin", "staff:district-admin", "HG")
    expired = jwt.encode(
        {
            "sub": "admin-1",
            "role": "admin",
            "scope": "*",
            "aud": "gridledger",
            "iss": "gridledger",
            "jti": str(uuid.uuid4()),
            "iat": datetime.now(UTC) - timedelta(hours=3),
            "exp": datetime.now(UTC) - timedelta(hours=1),
        },
        SECRET,
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": "admin-1", "role": "admin", "scope": "*"},
        "not-the-secret-but-just-as-long-as-the-real-one-0123",
    )
    org = {"json": {"name": "单位"}}
    huge = 4611686018427387904
    return [
        ("min_position far beyond the head", t["resident"], "GET", "/v1/jurisdictions/HG",
         {"params": {"min_position": huge, "wait_ms": 30000}}, {422, 503}),
        ("min_position beyond a 64-bit integer", t["resident"], "GET", "/v1/tickets",
         {"params": {"min_position": 2**70}}, {422}),
        ("a negative wait_ms", t["resident"], "GET", "/v1/tickets",
         {"params": {"wait_ms": -1}}, {422}),
        ("a body over 64 KiB", t["admin"], "POST", "/v1/organisations",
         {"content": b'{"name": "' + b"x" * BIG + b'"}',
          "headers": {"Content-Type": "application/json"}}, {413}),
        ("a body over 64 KiB without a token", None, "POST", "/v1/organisations",
         {"content": b"x" * BIG, "headers": {"Content-Type": "application/json"}}, {401, 413}),
        ("a body that is not JSON", t["admin"], "POST", "/v1/organisations",
         {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, {422}),
        ("a JSON array for an object", t["admin"], "POST", "/v1/organisations",
         {"json": [1, 2, 3]}, {422}),
        ("no token", None, "POST", "/v1/organisations", org, {401}),
        ("an expired token", expired, "POST", "/v1/organisations", org, {401}),
        ("a token signed with another key", forged, "POST", "/v1/organisations", org, {401}),
        ("a district admin defining a district elsewhere", district_admin, "POST",
         "/v1/jurisdictions",
         {"json": {"code": "ZZ", "kind": "district", "name": "别区", "parent": None}}, {403}),
        ("a district admin acting in another district", district_admin, "POST",
         f"/v1/members/{world.foreign_member}/report-ins",
         {"json": {"community": "XB-01-01"}}, {403, 404}),
        ("staff reporting in a member of another district", t["community_staff"], "POST",
         f"/v1/members/{world.foreign_member}/report-ins",
         {"json": {"community": "HG-WH-BH"}}, {404}),
        ("staff reporting in an id that does not exist", t["community_staff"], "POST",
         f"/v1/members/{uuid.uuid4()}/report-ins", {"json": {"community": "HG-WH-BH"}}, {404}),
        ("a resident redeeming another member's points", t["resident"], "POST",
         "/v1/points/redemptions",
         {"json": {"member_id": world.foreign_member, "community": "HG-WH-BH",
                   "item": "洗衣液", "points": 1}}, {403, 404}),
        ("an auditor sending an invalid body", t["auditor"], "POST", "/v1/organisations",
         {"json": {"name": ""}}, {403}),
        ("an evaluator sending no body", t["evaluator"], "POST", "/v1/tickets", {}, {403}),
        ("/metrics without a token", None, "GET", "/metrics", {}, {401}),
        ("/metrics with a resident token", t["resident"], "GET", "/metrics", {}, {401, 403}),
        ("a page far too long", t["admin"], "GET", "/v1/tickets",
         {"params": {"limit": 100000}}, {422}),
        ("a cursor this server never made", t["admin"], "GET", "/v1/tickets",
         {"params": {"cursor": "bm90LWEtY3Vyc29y"}}, {422}),
        ("an id that is not a uuid", t["admin"], "GET", "/v1/tickets/not-a-uuid", {}, {422}),
        ("a control character in a jurisdiction code", t["admin"], "GET",
         "/v1/jurisdictions/HG%01", {}, {404, 422}),
        ("a NUL in a name", t["admin"], "POST", "/v1/organisations",
         {"json": {"name": "单位\x00"}}, {201, 422}),
        ("an Idempotency-Key of control characters", t["admin"], "POST", "/v1/organisations",
         {"json": {"name": "单位"}, "headers": {"Idempotency-Key": "a\tb"}}, {422}),
        ("the audit export of every position there could be", t["auditor"], "GET",
         "/v1/audit/export", {"params": {"from": 0, "to": huge}}, {200, 403, 422}),
    ]  # fmt: skip


def test_hostile_requests_get_clear_answers_and_refusals_record_nothing(world: World) -> None:
    wrong = []
    for what, token, method, path, request, right in _cases(world):
        response = _send(world, token, method, path, **request)
        if response.status_code not in right:
            wrong.append(f"{what}: {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json"), what
    world.report(f"{len(_cases(world))} hostile requests by hand")
    assert wrong == []


def test_one_key_of_one_actor_is_not_another_actors_key(world: World) -> None:
    """Two actors whose id and key, joined with "/", would read the same: two commands."""
    first = _send(world, world.gl.token("admin", "staff:a/b", "*"), "POST", "/v1/organisations",
                  json={"name": "甲"}, headers={"Idempotency-Key": "c"})  # fmt: skip
    second = _send(world, world.gl.token("admin", "staff:a", "*"), "POST", "/v1/organisations",
                   json={"name": "乙"}, headers={"Idempotency-Key": "b/c"})  # fmt: skip
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert first.json()["id"] != second.json()["id"]
    world.report("two actors' keys that join alike")


def test_a_key_reused_with_another_body_is_refused_and_records_nothing(world: World) -> None:
    token = world.tokens["admin"]
    first = _send(world, token, "POST", "/v1/organisations", json={"name": "丙"},
                  headers={"Idempotency-Key": "k-1"})  # fmt: skip
    again = _send(world, token, "POST", "/v1/organisations", json={"name": "丁"},
                  headers={"Idempotency-Key": "k-1"})  # fmt: skip
    assert (first.status_code, again.status_code) == (201, 422)
    world.report("a key reused with another body")


def test_control_characters_in_names_never_break_an_export(world: World) -> None:
    """A member and a redemption item holding \\x01: refused at the door, or recorded and
    then exported (XLSX and CSV) without a server error."""
    admin = world.tokens["admin"]
    rule = {"description": "help", "points": 10, "kind": "award"}
    assert _send(world, admin, "PUT", "/v1/jurisdictions/HG-WH-BH/rulebook/rules/help",
                 json=rule).is_success  # fmt: skip
    member = _send(world, admin, "POST", "/v1/members",
                   json={"name": "居\x01民", "phone": "13800138000", "kind": "resident",
                         "home_grid": "HG-WH-BH-01"})  # fmt: skip
    assert member.status_code in (201, 422), member.text
    who = member.json()["id"] if member.status_code == 201 else world.member
    award = {"member_id": who, "community": "HG-WH-BH", "rule_code": "help",
             "source": {"kind": "inspection", "id": "ctl-1"}}  # fmt: skip
    assert _send(world, admin, "POST", "/v1/points/awards", json=award).is_success
    spend = {"member_id": who, "community": "HG-WH-BH", "item": "洗\x01衣液", "points": 3}
    spent = _send(world, admin, "POST", "/v1/points/redemptions", json=spend)
    assert spent.status_code in (201, 422), spent.text
    last = head(world.gl.url)
    eventually("the projections to reach the commands", lambda: _projected(world.gl, last))
    for path in (
        "/v1/points/leaderboard",
        f"/v1/points/accounts/{who}/ledger",
        "/v1/points/trial-balance",
    ):
        for fmt in ("xlsx", "csv"):
            params = {"format": fmt, "community": "HG-WH-BH", "min_position": last}
            answer = _send(world, admin, "GET", path, params=params)
            assert answer.status_code in (200, 404, 422), f"{path} {fmt}: {answer.text[:300]}"
    world.report("control characters, then every export that shows them")


def _projected(gl: Gridledger, position: int) -> bool:
    with psycopg.connect(gl.url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT min(position) FROM projection_state WHERE status = 'active'"
        ).fetchone()
    return bool(row and row[0] is not None and row[0] >= position)


def test_serve_on_a_database_not_migrated_says_to_migrate(gl: Gridledger, server_url: str) -> None:
    name = f"gridledger_unmigrated_{os.getpid()}"
    drop_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(gl.url)
    params["dbname"] = name
    serve = gl.start("serve", "--port", str(free_port()),
                     env={"GRIDLEDGER_DATABASE_URL": make_conninfo(**params)})  # fmt: skip
    try:
        eventually("serve to stop", lambda: serve.poll() is not None)
    finally:
        gl.kill(serve)
        drop_database(server_url, name)
    said = gl.output(serve)
    print(f"\nserve on an unmigrated database exited {serve.returncode}: {said.strip()[-300:]}")
    assert serve.returncode != 0
    assert "gridledger migrate" in said
    assert "Traceback" not in said


def test_staff_who_are_members_cannot_deal_to_themselves(world: World) -> None:
    """A grid worker whose token names their member id awards themselves points: refused,
    nothing recorded; another worker's award to them stands."""
    admin = world.tokens["admin"]
    rule = {"description": "patrol", "points": 5, "kind": "award"}
    assert _send(world, admin, "PUT", "/v1/jurisdictions/HG-WH-BH/rulebook/rules/patrol",
                 json=rule).is_success  # fmt: skip
    award = {"member_id": world.member, "community": "HG-WH-BH", "rule_code": "patrol",
             "source": {"kind": "inspection", "id": "self-1"}}  # fmt: skip
    myself = world.gl.token("grid_worker", world.member, "HG-WH-BH-01")
    refused = _send(world, myself, "POST", "/v1/points/awards", json=award)
    other = world.gl.token("grid_worker", "staff:worker-2", "HG-WH-BH-01")
    allowed = _send(world, other, "POST", "/v1/points/awards", json=award)
    assert (refused.status_code, allowed.status_code) in ((409, 201), (403, 201)), refused.text
    world.report("a staff member awarding themselves")
