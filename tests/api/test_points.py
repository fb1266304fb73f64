"""Civility points through HTTP: rules, awards, approval, deductions, redemptions,
reversals, expiries and the reads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api.conftest import Api

STAFF = {"role": "community_staff", "sub": "staff:1", "scope": "HG-WH-BH"}
STREET = {"role": "street_staff", "sub": "staff:street-1", "scope": "HG-WH"}
WORKER = {"role": "grid_worker", "sub": "staff:worker-1", "scope": "HG-WH-BH-01"}


def rule(api: Api, community: str, code: str, points: int, **terms: Any) -> dict[str, Any]:
    body = {"description": code, "points": points, "kind": "award", **terms}
    return api.ok("PUT", f"/v1/jurisdictions/{community}/rulebook/rules/{code}", body)


def award(api: Api, member: str, community: str, code: str, source: str, **who: str) -> Any:
    body = {"member_id": member, "community": community, "rule_code": code,
            "source": {"kind": "inspection", "id": source}}  # fmt: skip
    return api.post("/v1/points/awards", body, **(who or STAFF))


def test_rules_are_versioned_and_read_as_of_a_moment(api: Api, tree) -> None:
    first = rule(api, tree["community"], "garbage", 5)
    assert first["rule_version"] == 1
    then = api.clock.now
    api.clock.advance(minutes=1)
    second = rule(api, tree["community"], "garbage", 8, caps={"per_day": 16})
    assert second["rule_version"] == 2
    book = api.read(f"/v1/jurisdictions/{tree['community']}/rulebook", second["position"])
    assert [(r["rule_code"], r["version"], r["points"]) for r in book["rules"]] == [
        ("garbage", 2, 8)
    ]
    past = api.read(
        f"/v1/jurisdictions/{tree['community']}/rulebook",
        second["position"],
        params={"as_of": then.isoformat()},
    )
    assert [(r["version"], r["points"]) for r in past["rules"]] == [(1, 5)]
    assert (
        api.put(
            f"/v1/jurisdictions/{tree['community']}/rulebook/rules/x",
            {"description": "x", "points": 1, "kind": "award"},
            **STAFF,
        ).status_code
        == 403
    )
    assert api.get("/v1/jurisdictions/NOPE/rulebook").status_code == 404


def test_an_award_needing_approval_is_pending_until_someone_else_approves(api: Api, tree) -> None:
    rule(api, tree["community"], "good_deed", 20, requires_approval=True)
    member = api.member(tree["grid"])
    created = award(api, member, tree["community"], "good_deed", "d-1", **WORKER)
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["status"] == "pending"
    assert created.headers["location"] == f"/v1/points/entries/{answer['entry_id']}"
    entry = api.read(created.headers["location"], answer["position"])
    assert entry["status"] == "pending"
    assert api.post(f"/v1/points/awards/{answer['entry_id']}/approve", **WORKER).status_code == 403
    approved = api.ok("POST", f"/v1/points/awards/{answer['entry_id']}/approve", None, **STAFF)
    assert approved["status"] == "posted"
    account = api.read(f"/v1/points/accounts/{member}", approved["position"])
    assert (account["balance"], account["earned"], account["pending"]) == (20, 20, 0)
    assert account["communities"][0]["community"] == tree["community"]
    ledger = api.read(f"/v1/points/accounts/{member}/ledger", approved["position"])
    assert [(e["kind"], e["balance_after"]) for e in ledger["items"]] == [
        ("award", 0),
        ("approval", 20),
    ]
    assert ledger["items"][0]["awarded_by"] == "staff:worker-1"


def test_awarding_oneself_twice_for_a_source_and_beyond_the_balance_are_409s(
    api: Api, tree
) -> None:
    rule(api, tree["community"], "sorting", 5)
    member = api.member(tree["grid"])
    me = {"role": "community_staff", "sub": member, "scope": tree["community"]}
    refused = award(api, member, tree["community"], "sorting", "s-0", **me)
    assert refused.status_code == 409 and refused.json()["rule"] == "points.self_award"
    assert award(api, member, tree["community"], "sorting", "s-1").status_code == 201
    again = award(api, member, tree["community"], "sorting", "s-1")
    assert again.status_code == 409 and again.json()["rule"] == "points.source_once"
    myself = {"role": "resident", "sub": member, "scope": tree["community"]}
    spend = {"member_id": member, "community": tree["community"], "item": "洗衣液", "points": 50}
    before = api.events()
    too_much = api.post("/v1/points/redemptions", spend, **myself)
    assert too_much.status_code == 409
    assert too_much.json()["rule"] == "points.redeem_beyond_balance"
    assert api.events() == before
    other = api.member(tree["grid"])
    assert (
        api.post("/v1/points/redemptions", {**spend, "member_id": other}, **myself).status_code
        == 403
    )
    spent = api.post("/v1/points/redemptions", {**spend, "points": 3}, **myself)
    assert spent.status_code == 201
    account = api.read(f"/v1/points/accounts/{member}", spent.json()["position"])
    assert (account["balance"], account["redeemed"]) == (2, 3)


def test_deduction_reversal_rejection_expiry_and_leaderboard(api: Api, tree) -> None:
    community = tree["other_community"]
    rule(api, community, "help", 10)
    rule(api, community, "litter", 4, kind="deduction")
    rule(api, community, "family", 30, requires_approval=True)
    top, second = api.member(tree["other_grid"]), api.member(tree["other_grid"])
    for member, source in ((top, "a"), (top, "b"), (second, "c")):
        assert award(api, member, community, "help", source, **STREET).status_code == 201
    body = {"member_id": top, "community": community, "rule_code": "litter",
            "source": {"kind": "patrol", "id": "p-1"}, "note": "乱扔垃圾"}  # fmt: skip
    deducted = api.post("/v1/points/deductions", body, **STREET)
    assert deducted.status_code == 201
    reversed_ = api.post(
        "/v1/points/reversals",
        {"entry_id": deducted.json()["entry_id"], "reason": "误扣"},
        **STREET,
    )
    assert reversed_.status_code == 201, reversed_.text
    pending = award(api, second, community, "family", "f-1", **STREET).json()["entry_id"]
    rejected = api.ok(
        "POST",
        f"/v1/points/awards/{pending}/reject",
        {"reason": "证据不足"},
        **STAFF | {"scope": community},
    )
    assert rejected["status"] == "rejected"
    board = api.read(
        "/v1/points/leaderboard", rejected["position"], params={"jurisdiction": community}
    )
    assert [(r["member_id"], r["points"]) for r in board["items"]] == [(top, 20), (second, 10)]
    since = api.read(
        "/v1/points/leaderboard",
        rejected["position"],
        params={"jurisdiction": community, "from": api.clock.now.isoformat()},
    )
    assert {r["member_id"] for r in since["items"]} == {top, second}
    api.clock.advance(days=2)
    tomorrow = (api.clock.now - timedelta(days=1)).date().isoformat()
    expired = api.ok(
        "POST", "/v1/points/expiries", {"community": community, "before": tomorrow}, **STREET
    )
    assert (expired["accounts"], expired["points"]) == (2, 30)
    assert api.read(f"/v1/points/accounts/{top}", expired["position"])["balance"] == 0
    again = api.ok(
        "POST", "/v1/points/expiries", {"community": community, "before": tomorrow}, **STREET
    )
    assert (again["accounts"], again["points"]) == (0, 0)
    future = (api.clock.now + timedelta(days=3)).date().isoformat()
    assert (
        api.post(
            "/v1/points/expiries", {"community": community, "before": future}, **STREET
        ).status_code
        == 409
    )
    assert api.get("/v1/points/accounts/00000000-0000-0000-0000-000000000000").status_code == 404


def test_closing_an_activity_awards_its_attendance_rule_to_each_attendee(api: Api, tree) -> None:
    rule(api, tree["community"], "attend", 3, trigger="activity_attendance")
    starts = api.clock.now - timedelta(hours=2)
    ends = starts + timedelta(hours=1)
    body = {"title": "义诊", "jurisdiction": tree["community"], "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(), "points_rule": "attend"}  # fmt: skip
    activity = api.ok("POST", "/v1/activities", body, **STAFF)["id"]
    member = api.member(tree["grid"])
    at = {"member_id": member, "at": starts.isoformat()}
    api.ok("POST", f"/v1/activities/{activity}/check-ins", at, **WORKER)
    api.ok(
        "POST",
        f"/v1/activities/{activity}/check-outs",
        {**at, "at": (starts + timedelta(hours=1)).isoformat()},
        **WORKER,
    )
    closed = api.ok("POST", f"/v1/activities/{activity}/close", None, **STAFF)
    assert closed["awarded"] == 1
    assert api.read(f"/v1/points/accounts/{member}", closed["position"])["balance"] == 3


def test_expiring_an_unknown_code_is_a_404_and_a_grid_a_409(api: Api, tree) -> None:
    unknown = api.post("/v1/points/expiries", {"community": "NOWHERE", "before": "2020-01-01"})
    assert unknown.status_code == 404
    grid = api.post("/v1/points/expiries", {"community": tree["grid"], "before": "2020-01-01"})
    assert grid.status_code == 409
    assert grid.json()["rule"] == "jurisdiction.kind"
