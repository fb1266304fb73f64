"""The read policy, table-driven: every role against every GET endpoint.

One of everything (a member living in and reported in to the place, a ticket they
reported there, an activity there they attended, a pledge, a points award, an
organisation) sits at each of four places: the grid the tokens are scoped to, another
grid of the same community, a grid of another community of the same street, and a grid
of another district. For each endpoint and role the table says at which places the
caller may see it: a single resource answers 200 there and 404 elsewhere (the answer
of an unknown id), a list holds it there and not elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from api.http.auth import ROLES
from tests.api.conftest import Api, unique

PLACES = ("grid", "grid2", "other_grid", "far")
Thing = dict[str, str]
Things = dict[str, Thing]

EVERYWHERE = set(PLACES)
MINE = {"grid"}  # the resident is the member at "grid"
STRICT = {
    "admin": EVERYWHERE,
    "auditor": EVERYWHERE,
    "evaluator": EVERYWHERE,
    "department_staff": {"grid", "grid2", "other_grid"},
    "street_staff": {"grid", "grid2", "other_grid"},
    "community_staff": {"grid", "grid2"},
    "grid_worker": {"grid"},
    "resident": MINE,
}
"""People and tickets: strictly within the scope's subtree."""
COMMUNITY = {**STRICT, "grid_worker": {"grid", "grid2"}}
"""Pledges, points: a community's; a grid worker reads its community's too. (So does the
attendance of an activity a community holds: see the last test.)"""
SCORECARDS = {**STRICT, "resident": set()}
"""Scorecards of a place or a worker: staff within scope; residents none (403)."""
PUBLIC = dict.fromkeys(ROLES, EVERYWHERE)
"""Public notices: the tree, organisations, activities, rulebooks."""


def _who(role: str, things: Things) -> dict[str, str]:
    tree = things["grid"]
    scopes = {"grid_worker": tree["grid"], "street_staff": tree["street"],
              "community_staff": tree["community"], "admin": "*"}  # fmt: skip
    sub = tree["member"] if role == "resident" else f"staff:{role}-1"
    return {"role": role, "sub": sub, "scope": scopes.get(role, tree["district"])}


def _make(api: Api, tree: dict[str, str], grid: str, community: str) -> Thing:
    """One of everything at `grid` (admin makes it all)."""
    now = api.clock.now
    member = api.member(grid)
    api.ok("POST", f"/v1/members/{member}/report-ins", {"community": community, "grid": grid})
    ticket = api.ok("POST", "/v1/tickets", {
        "category": "环境卫生", "description": "楼道堆物", "grid": grid, "source": "resident",
        "reporter_member_id": member})["id"]  # fmt: skip
    activity = api.ok("POST", "/v1/activities", {
        "title": "义诊", "jurisdiction": grid, "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat()})["id"]  # fmt: skip
    api.ok("POST", f"/v1/activities/{activity}/check-ins", {"member_id": member})
    pledge = api.ok("POST", "/v1/pledges", {
        "member_id": member, "community": community, "kind": "commitment", "title": "送餐",
        "target_hours": "2", "due_on": (now + timedelta(days=9)).date().isoformat()})["id"]  # fmt: skip
    entry = api.ok("POST", "/v1/points/awards", {
        "member_id": member, "community": community, "rule_code": "r",
        "source": {"kind": "ticket", "id": unique("read-")}})["entry_id"]  # fmt: skip
    organisation = api.ok("POST", "/v1/organisations", {"name": unique("单位")})["id"]
    api.ok("POST", f"/v1/organisations/{organisation}/report-ins", {"community": community})
    return {**tree, "place": grid, "place_community": community, "member": member,
            "ticket": ticket, "activity": activity, "pledge": pledge, "entry": str(entry),
            "organisation": organisation}  # fmt: skip


@pytest.fixture(scope="module")
def things(api: Api, tree: dict[str, str]) -> Things:
    far = api.tree("HX")
    rule = {"description": "r", "points": 5, "kind": "award"}
    for community in (tree["community"], tree["other_community"], far["community"]):
        api.ok("PUT", f"/v1/jurisdictions/{community}/rulebook/rules/r", rule)
    return {
        "grid": _make(api, tree, tree["grid"], tree["community"]),
        "grid2": _make(api, tree, tree["grid2"], tree["community"]),
        "other_grid": _make(api, tree, tree["other_grid"], tree["other_community"]),
        "far": _make(api, far, far["grid"], far["community"]),
    }


Check = Callable[[Api, Thing, dict[str, str]], bool]


def _found(api: Api, path: str, who: dict[str, str], **params: Any) -> bool:
    """Whether a single resource is there for `who`: 200, or 404 as for an unknown id."""
    response = api.get(path, after=api.last, params=params, **who)
    assert response.status_code in (200, 404), (path, who, response.text)
    if response.status_code == 404:
        assert response.json()["type"] == "/problems/not-found"
    assert "x-projection-position" in response.headers
    return response.status_code == 200


def _readable(api: Api, path: str, who: dict[str, str], **params: Any) -> bool:
    """Whether `who` may read `path`: 200, or refused (403, or 404 for a hidden member)."""
    response = api.get(path, after=api.last, params=params, **who)
    assert response.status_code in (200, 403, 404), (path, who, response.text)
    return response.status_code == 200


YEAR = {"from": "2000-01-01", "to": "2100-01-01"}


def _listed(api: Api, path: str, who: dict[str, str], key: str, value: str, **params: Any) -> bool:
    """Whether a list (or a field holding one) answered to `who` holds `value` as `key`."""
    answer = api.read(path, api.last, params=params, **who)
    items = answer["items"] if "items" in answer else answer["rules"]
    return value in [str(item[key]) for item in items]


def _attended(api: Api, t: Thing, who: dict[str, str]) -> bool:
    activity = api.read(f"/v1/activities/{t['activity']}", api.last, **who)
    return t["member"] in [a["member_id"] for a in activity["attendance"]]


def _account(api: Api, t: Thing, who: dict[str, str]) -> bool:
    path = f"/v1/points/accounts/{t['member']}"
    return _found(api, path, who) and api.read(path, api.last, **who)["balance"] == 5


def _reported(api: Api, path: str, who: dict[str, str], field: str, key: str, value: str,
              **params: Any) -> bool:  # fmt: skip
    """Whether a ledger report answered to `who` lists `value` as `key` in `field`;
    residents are refused such reports (403)."""
    response = api.get(path, after=api.last, params=params, **who)
    if who["role"] == "resident":
        assert response.status_code == 403, response.text
        return False
    assert response.status_code == 200, response.text
    return value in [str(item[key]) for item in response.json()[field]]


LEDGER = {**COMMUNITY, "resident": set()}
"""The ledger's reports: a community's, never a resident's (403)."""

ENDPOINTS: dict[str, tuple[str, dict[str, set[str]], Check]] = {
    "jurisdiction": ("/v1/jurisdictions/{code}", PUBLIC,
        lambda api, t, who: _found(api, f"/v1/jurisdictions/{t['place']}", who)),
    "children": ("/v1/jurisdictions/{code}/children", PUBLIC,
        lambda api, t, who: _listed(api, f"/v1/jurisdictions/{t['place_community']}/children", who, "code", t["place"])),
    "roster": ("/v1/jurisdictions/{code}/roster", STRICT,
        lambda api, t, who: _listed(api, f"/v1/jurisdictions/{t['place']}/roster", who, "id", t["member"])),
    "member": ("/v1/members/{member_id}", STRICT,
        lambda api, t, who: _found(api, f"/v1/members/{t['member']}", who)),
    "members": ("/v1/members", STRICT,
        lambda api, t, who: _listed(api, "/v1/members", who, "id", t["member"], jurisdiction=t["place"])),
    "organisation": ("/v1/organisations/{organisation_id}", PUBLIC,
        lambda api, t, who: _found(api, f"/v1/organisations/{t['organisation']}", who)),
    "activity": ("/v1/activities/{activity_id}", PUBLIC,
        lambda api, t, who: _found(api, f"/v1/activities/{t['activity']}", who)),
    "attendance": ("/v1/activities/{activity_id}", STRICT, _attended),  # activities at grids
    "activities": ("/v1/activities", PUBLIC,
        lambda api, t, who: _listed(api, "/v1/activities", who, "id", t["activity"], jurisdiction=t["place"])),
    "pledge": ("/v1/pledges/{pledge_id}", COMMUNITY,
        lambda api, t, who: _found(api, f"/v1/pledges/{t['pledge']}", who)),
    "pledges": ("/v1/pledges", COMMUNITY,
        lambda api, t, who: _listed(api, "/v1/pledges", who, "id", t["pledge"], member_id=t["member"])),
    "ticket": ("/v1/tickets/{ticket_id}", STRICT,
        lambda api, t, who: _found(api, f"/v1/tickets/{t['ticket']}", who)),
    "tickets": ("/v1/tickets", STRICT,
        lambda api, t, who: _listed(api, "/v1/tickets", who, "id", t["ticket"], grid=t["place"])),
    "timeline": ("/v1/tickets/{ticket_id}/timeline", STRICT,
        lambda api, t, who: _found(api, f"/v1/tickets/{t['ticket']}/timeline", who)),
    "rulebook": ("/v1/jurisdictions/{community}/rulebook", PUBLIC,
        lambda api, t, who: _listed(api, f"/v1/jurisdictions/{t['place_community']}/rulebook", who, "rule_code", "r")),
    "entry": ("/v1/points/entries/{entry_id}", COMMUNITY,
        lambda api, t, who: _found(api, f"/v1/points/entries/{t['entry']}", who)),
    "account": ("/v1/points/accounts/{member_id}", COMMUNITY, _account),
    "ledger": ("/v1/points/accounts/{member_id}/ledger", COMMUNITY,
        lambda api, t, who: _found(api, f"/v1/points/accounts/{t['member']}/ledger", who)
        and _listed(api, f"/v1/points/accounts/{t['member']}/ledger", who, "entry_id", t["entry"])),
    "leaderboard": ("/v1/points/leaderboard", COMMUNITY,
        lambda api, t, who: _listed(api, "/v1/points/leaderboard", who, "member_id", t["member"], jurisdiction=t["place_community"])),
    "scorecard": ("/v1/scorecards/{jurisdiction}", SCORECARDS,
        lambda api, t, who: _readable(api, f"/v1/scorecards/{t['place']}", who, **YEAR)),
    "worker scorecard": ("/v1/scorecards/workers/{member_id}", SCORECARDS,
        lambda api, t, who: _readable(api, f"/v1/scorecards/workers/{t['member']}", who, **YEAR)),
    "assessment policy": ("/v1/assessment-policies/{jurisdiction}", PUBLIC,
        lambda api, t, who: _found(api, f"/v1/assessment-policies/{t['place']}", who)),
    "trial-balance": ("/v1/points/trial-balance", LEDGER,
        lambda api, t, who: _reported(api, "/v1/points/trial-balance", who, "accounts", "member_id", t["member"], jurisdiction=t["district"])),
    "anomalies": ("/v1/points/anomalies", LEDGER,  # every place's award names no ticket
        lambda api, t, who: _reported(api, "/v1/points/anomalies", who, "items", "subject", f"entry {t['entry']} (award)")),
}  # fmt: skip


AUDIT = "/v1/audit/"
"""The audit endpoints answer auditors and admins only, whatever the place (below)."""


def _gets(api: Api) -> set[str]:
    paths = api.client.get("/openapi.json").json()["paths"]
    return {path for path, operations in paths.items() if "get" in operations and "/v1" in path}


def test_every_get_endpoint_has_a_row_in_this_table(api: Api) -> None:
    gets = {path for path in _gets(api) if not path.startswith(AUDIT)}
    assert gets == {path for path, _, _ in ENDPOINTS.values()}


def test_every_audit_endpoint_refuses_every_role_but_auditors_and_admins(
    api: Api, things: Things
) -> None:
    audit = sorted(path for path in _gets(api) if path.startswith(AUDIT))
    assert len(audit) >= 7
    for path in audit:
        concrete = path.replace("{aggregate_id}", things["grid"]["ticket"])
        for role in ROLES:
            status = api.get(concrete, **_who(role, things)).status_code
            if role in ("admin", "auditor"):
                assert status != 403, (path, role)
            else:
                assert status == 403, (path, role, status)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_each_role_reads_what_the_policy_lets_it_and_nothing_more(
    api: Api, things: Things, endpoint: str
) -> None:
    _, policy, check = ENDPOINTS[endpoint]
    seen = {
        role: {place for place in PLACES if check(api, things[place], _who(role, things))}
        for role in ROLES
    }
    assert seen == policy


def test_a_resident_lists_only_themselves_and_no_other_phone(api: Api, things: Things) -> None:
    who = _who("resident", things)
    members = api.read("/v1/members", api.last, params={"limit": 500}, **who)["items"]
    assert [m["id"] for m in members] == [things["grid"]["member"]]
    neighbour = api.get(f"/v1/members/{things['grid2']['member']}", **who)
    unknown = api.get("/v1/members/00000000-0000-0000-0000-000000000000", **who)
    assert neighbour.status_code == unknown.status_code == 404
    assert "13800138000" not in neighbour.text


def test_a_resident_sees_the_tickets_they_reported_not_others_of_their_grid(
    api: Api, things: Things
) -> None:
    here = things["grid"]
    staff = {"role": "community_staff", "sub": "staff:s-1", "scope": here["community"]}
    by_staff = api.ok("POST", "/v1/tickets", {
        "category": "c", "description": "d", "grid": here["place"], "source": "hotline"}, **staff)  # fmt: skip
    who = _who("resident", things)
    listed = api.read("/v1/tickets", by_staff["position"], params={"limit": 500}, **who)
    assert [t["id"] for t in listed["items"]] == [here["ticket"]]
    assert api.get(f"/v1/tickets/{by_staff['id']}", **who).status_code == 404
    assert api.get(f"/v1/tickets/{by_staff['id']}", **staff).status_code == 200


def test_lists_unfiltered_by_the_caller_hold_only_its_view(api: Api, things: Things) -> None:
    worker = _who("grid_worker", things)
    tickets = api.read("/v1/tickets", api.last, params={"limit": 500}, **worker)["items"]
    assert {t["grid"] for t in tickets} == {things["grid"]["place"]}
    staff = _who("community_staff", things)
    roster = api.read(f"/v1/jurisdictions/{things['grid']['district']}/roster", api.last,
                      params={"limit": 500, "kind": "member"}, **staff)["items"]  # fmt: skip
    assert {r["id"] for r in roster} == {things["grid"]["member"], things["grid2"]["member"]}


def test_a_resident_token_whose_sub_is_no_member_id_reads_nothing_private(
    api: Api, things: Things
) -> None:
    who = {"role": "resident", "sub": "not-a-uuid", "scope": things["grid"]["community"]}
    assert api.read("/v1/members", api.last, **who)["items"] == []
    assert api.read("/v1/tickets", api.last, **who)["items"] == []
    assert api.get(f"/v1/points/accounts/{things['grid']['member']}", **who).status_code == 404


def test_staff_read_their_own_write_at_once(api: Api, things: Things) -> None:
    staff = _who("community_staff", things)
    body = {"name": "新居民", "phone": "13700000000", "kind": "resident",
            "home_grid": things["grid2"]["place"]}  # fmt: skip
    created = api.ok("POST", "/v1/members", body, **staff)
    assert (
        api.read(f"/v1/members/{created['id']}", created["position"], **staff)["name"] == "新居民"
    )


def test_a_grid_worker_reads_the_attendance_of_its_communitys_activities(
    api: Api, things: Things
) -> None:
    here, now = things["grid"], api.clock.now
    activity = api.ok("POST", "/v1/activities", {
        "title": "社区议事会", "jurisdiction": here["community"],
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat()})["id"]  # fmt: skip
    neighbour = things["grid2"]["member"]
    api.ok("POST", f"/v1/activities/{activity}/check-ins", {"member_id": neighbour})
    for role, expected in (("grid_worker", [neighbour]), ("resident", [])):
        read = api.read(f"/v1/activities/{activity}", api.last, **_who(role, things))
        assert [a["member_id"] for a in read["attendance"]] == expected, role
    far = {"role": "grid_worker", "sub": "staff:w-far", "scope": things["far"]["place"]}
    assert api.read(f"/v1/activities/{activity}", api.last, **far)["attendance"] == []
