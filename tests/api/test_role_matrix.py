"""The role matrix, table-driven: every role against every command, allowed or 403.

An allowed role may still be refused by the domain (404, 409, 422): what matters is
that only the roles the matrix names get past authorisation, and that a 403 records
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from api.http.auth import ROLES
from api.http.permissions import ALLOWED, allows
from tests.api.conftest import Api, unique

Targets = dict[str, str]
Request = tuple[str, str, dict[str, Any] | None]


@pytest.fixture(scope="module")
def targets(api: Api, tree: dict[str, str]) -> Targets:
    """One of everything, in the grid `tree['grid']` of community `tree['community']`."""
    member = api.member(tree["grid"])
    now = api.clock.now
    starts = now - timedelta(hours=1)
    activity = api.ok("POST", "/v1/activities", {
        "title": "x", "jurisdiction": tree["grid"], "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat()})["id"]  # fmt: skip
    ticket = api.ok("POST", "/v1/tickets", {
        "category": "c", "description": "d", "grid": tree["grid"], "source": "resident",
        "reporter_member_id": member})["id"]  # fmt: skip
    pledge = api.ok("POST", "/v1/pledges", {
        "member_id": member, "community": tree["community"], "kind": "commitment",
        "title": "t", "target_hours": "2", "due_on": (now + timedelta(days=9)).date().isoformat()})["id"]  # fmt: skip
    api.ok("PUT", f"/v1/jurisdictions/{tree['community']}/rulebook/rules/r", {
        "description": "r", "points": 5, "kind": "award", "requires_approval": True})  # fmt: skip
    entry = api.ok("POST", "/v1/points/awards", {
        "member_id": member, "community": tree["community"], "rule_code": "r",
        "source": {"kind": "k", "id": "matrix"}})["entry_id"]  # fmt: skip
    organisation = api.ok("POST", "/v1/organisations", {"name": "o"})["id"]
    erasable = api.member(tree["grid"])
    return {**tree, "member": member, "erasable": erasable, "activity": activity, "ticket": ticket,
            "pledge": pledge, "entry": str(entry), "organisation": organisation}  # fmt: skip


def _source() -> dict[str, str]:
    return {"kind": "k", "id": unique("s-")}


REQUESTS: dict[str, Callable[[Targets], Request]] = {
    "define_jurisdiction": lambda t: ("POST", "/v1/jurisdictions", {
        "code": unique("G-"), "kind": "grid", "name": "n", "parent": t["community"]}),
    "put_rule": lambda t: ("PUT", f"/v1/jurisdictions/{t['community']}/rulebook/rules/r2", {
        "description": "r2", "points": 1, "kind": "award"}),
    "put_assessment_policy": lambda t: ("PUT", f"/v1/assessment-policies/{t['district']}", {
        "weights": {"response": 0.2, "handling": 0.4, "satisfaction": 0.4},
        "basically_satisfied_weight": 0.8, "min_cases": 3, "stars": [
            {"figure": "tickets_handled", "threshold": 1}] * 5}),
    "register_member": lambda t: ("POST", "/v1/members", {
        "name": "n", "phone": "13800000000", "kind": "resident", "home_grid": t["grid"]}),
    "report_in_member": lambda t: ("POST", f"/v1/members/{t['member']}/report-ins", {
        "community": t["community"]}),
    "claim_role": lambda t: ("POST", f"/v1/members/{t['member']}/role-claims", {
        "role": "pioneer_post", "jurisdiction": t["grid"], "title": unique("t")}),
    "release_role": lambda t: ("POST", f"/v1/members/{t['member']}/role-releases", {
        "role": "unit_head", "jurisdiction": t["grid"]}),
    "register_organisation": lambda t: ("POST", "/v1/organisations", {"name": "n"}),
    "report_in_organisation": lambda t: ("POST", f"/v1/organisations/{t['organisation']}/report-ins", {
        "community": t["community"]}),
    "schedule_activity": lambda t: ("POST", "/v1/activities", {
        "title": "a", "jurisdiction": t["grid"], "starts_at": "2030-01-01T08:00:00Z",
        "ends_at": "2030-01-01T09:00:00Z"}),
    "check_in": lambda t: ("POST", f"/v1/activities/{t['activity']}/check-ins", {"member_id": t["member"]}),
    "check_out": lambda t: ("POST", f"/v1/activities/{t['activity']}/check-outs", {"member_id": t["member"]}),
    "close_activity": lambda t: ("POST", f"/v1/activities/{t['activity']}/close", None),
    "cancel_activity": lambda t: ("POST", f"/v1/activities/{t['activity']}/cancel", {"reason": "r"}),
    "make_pledge": lambda t: ("POST", "/v1/pledges", {
        "member_id": t["member"], "community": t["community"], "kind": "commitment",
        "title": "t", "target_hours": "1", "due_on": "2030-01-01"}),
    "accept_pledge": lambda t: ("POST", f"/v1/pledges/{t['pledge']}/accept", None),
    "log_session": lambda t: ("POST", f"/v1/pledges/{t['pledge']}/sessions", {"hours": 1, "on": "2020-01-01"}),
    "verify_session": lambda t: ("POST", f"/v1/pledges/{t['pledge']}/sessions/1/verify", None),
    "withdraw_pledge": lambda t: ("POST", f"/v1/pledges/{t['pledge']}/withdraw", {"reason": "r"}),
    "review_pledge": lambda t: ("POST", f"/v1/pledges/{t['pledge']}/review", {"rating": 3}),
    "report_ticket": lambda t: ("POST", "/v1/tickets", {
        "category": "c", "description": "d", "grid": t["grid"], "source": "resident",
        "reporter_member_id": t["member"]}),
    "accept_ticket": lambda t: ("POST", f"/v1/tickets/{t['ticket']}/accept", None),
    "reject_ticket": lambda t: ("POST", f"/v1/tickets/{t['ticket']}/reject", {"reason": "invalid"}),
    "dispatch_ticket": lambda t: ("POST", f"/v1/tickets/{t['ticket']}/dispatch", {"level": "grid", "assignee": "a"}),
    "respond_ticket": lambda t: ("POST", f"/v1/tickets/{t['ticket']}/respond", {"note": "n"}),
    "escalate_ticket": lambda t: ("POST", f"/v1/tickets/{t['ticket']}/escalate", {"to_level": "street", "reason": "r"}),
    "supervise_ticket": lambda t: ("POST", f"/v1/tickets/{t['ticket']}/supervise", {"note": "n"}),
    "resolve_ticket": lambda t: ("POST", f"/v1/tickets/{t['ticket']}/resolve", {"resolution": "r"}),
    "rate_ticket": lambda t: ("POST", f"/v1/tickets/{t['ticket']}/rate", {"satisfaction": "satisfied"}),
    "visit_ticket": lambda t: ("POST", f"/v1/tickets/{t['ticket']}/visit", {"note": "n"}),
    "close_ticket": lambda t: ("POST", f"/v1/tickets/{t['ticket']}/close", None),
    "reopen_ticket": lambda t: ("POST", f"/v1/tickets/{t['ticket']}/reopen", {"reason": "r"}),
    "award_points": lambda t: ("POST", "/v1/points/awards", {
        "member_id": t["member"], "community": t["community"], "rule_code": "r", "source": _source()}),
    "approve_award": lambda t: ("POST", f"/v1/points/awards/{t['entry']}/approve", None),
    "reject_award": lambda t: ("POST", f"/v1/points/awards/{t['entry']}/reject", {"reason": "r"}),
    "deduct_points": lambda t: ("POST", "/v1/points/deductions", {
        "member_id": t["member"], "community": t["community"], "rule_code": "r",
        "source": _source(), "note": "n"}),
    "redeem_points": lambda t: ("POST", "/v1/points/redemptions", {
        "member_id": t["member"], "community": t["community"], "item": "i", "points": 1}),
    "reverse_entry": lambda t: ("POST", "/v1/points/reversals", {"entry_id": t["entry"], "reason": "r"}),
    "expire_points": lambda t: ("POST", "/v1/points/expiries", {"community": t["community"], "before": "2020-01-01"}),
    "erase_member": lambda t: ("POST", f"/v1/members/{t['erasable']}/erasure", {"legal_basis": "PIPL Art. 47"}),
}  # fmt: skip


def _who(role: str, t: Targets) -> dict[str, str]:
    scopes = {"grid_worker": t["grid"], "admin": t["district"], "auditor": t["district"],
              "evaluator": t["district"], "street_staff": t["street"],
              "department_staff": t["district"]}  # fmt: skip
    sub = t["member"] if role == "resident" else f"staff:{role}-1"
    return {"role": role, "sub": sub, "scope": scopes.get(role, t["community"])}


def _send(api: Api, request: Request, who: dict[str, str]) -> int:
    method, path, body = request
    if method == "PUT":
        return api.put(path, body, **who).status_code
    return api.post(path, body, **who).status_code


def test_every_command_has_a_request_in_this_table() -> None:
    assert set(REQUESTS) == set(ALLOWED)


@pytest.mark.parametrize("command", list(REQUESTS))
def test_only_the_roles_the_matrix_names_get_past_authorisation(
    api: Api, targets: Targets, command: str
) -> None:
    for role in ROLES:
        before = api.events()
        status = _send(api, REQUESTS[command](targets), _who(role, targets))
        if allows(role, command):
            assert status != 403, (role, command)
        else:
            assert status == 403, (role, command, status)
            assert api.events() == before


@pytest.mark.parametrize(
    "command", ["accept_ticket", "award_points", "accept_pledge", "check_in", "claim_role"]
)
def test_staff_of_another_community_are_refused(api: Api, targets: Targets, command: str) -> None:
    who = {"role": "community_staff", "sub": "staff:elsewhere", "scope": targets["other_community"]}
    before = api.events()
    assert _send(api, REQUESTS[command](targets), who) == 403
    assert api.events() == before


def test_a_grid_worker_of_another_grid_is_refused_a_ticket_of_this_one(
    api: Api, targets: Targets
) -> None:
    who = {"role": "grid_worker", "sub": "staff:w-2", "scope": targets["grid2"]}
    assert _send(api, REQUESTS["respond_ticket"](targets), who) == 403


def test_a_resident_acts_only_on_their_own_behalf(api: Api, targets: Targets) -> None:
    stranger = api.member(targets["grid"])
    who = {"role": "resident", "sub": stranger, "scope": targets["community"]}
    for command in ("report_in_member", "make_pledge", "redeem_points", "check_in", "log_session"):
        assert _send(api, REQUESTS[command](targets), who) == 403, command


def test_the_actor_recorded_is_the_tokens_sub_and_role(api: Api, targets: Targets) -> None:
    who = {"role": "community_staff", "sub": "staff:42", "scope": targets["community"]}
    created = api.ok("POST", "/v1/tickets", {
        "category": "c", "description": "d", "grid": targets["grid"], "source": "hotline"}, **who)  # fmt: skip
    timeline = api.read(f"/v1/tickets/{created['id']}/timeline", created["position"])
    first = timeline["items"][0]
    assert (first["actor_id"], first["actor_role"]) == ("staff:42", "community_staff")
