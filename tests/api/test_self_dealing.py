"""Staff cannot pull a member from elsewhere into their view, nor learn whether an id
exists; a handler cannot mint valid-report points for someone by reporting and
resolving a ticket itself; the leaderboard names only members the caller may read."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, unique

STAFF = {"role": "community_staff", "sub": "staff:bh-1", "scope": "HG-WH-BH"}
OTHER_STAFF = {"role": "community_staff", "sub": "staff:bh-2", "scope": "HG-WH-BH"}
UNKNOWN = "00000000-0000-0000-0000-00000000abcd"


def test_staff_cannot_report_in_a_member_from_elsewhere_nor_tell_if_the_id_exists(
    api: Api, tree: dict[str, str]
) -> None:
    elsewhere = api.member(tree["other_grid"])  # lives in the other community
    before = api.events()
    body = {"community": tree["community"]}
    for member in (elsewhere, UNKNOWN):
        answer = api.post(f"/v1/members/{member}/report-ins", body, **STAFF)
        assert answer.status_code == 404, answer.text
        assert answer.json()["detail"] == f"Member {member} does not exist (member.exists)"
        claim = {"role": "pioneer_post", "jurisdiction": tree["community"]}
        assert api.post(f"/v1/members/{member}/role-claims", claim, **STAFF).status_code == 404
        ticket = {
            "category": "环境卫生",
            "description": "楼道堆物",
            "grid": tree["grid"],
            "source": "hotline",
            "reporter_member_id": member,
        }
        assert api.post("/v1/tickets", ticket, **STAFF).status_code == 404
    assert api.events() == before
    assert api.get(f"/v1/members/{elsewhere}", after=api.last, **STAFF).status_code == 404
    # the member reports in themselves, with their own token; then staff see them
    me = {"role": "resident", "sub": elsewhere, "scope": tree["community"]}
    done = api.ok("POST", f"/v1/members/{elsewhere}/report-ins", body, **me)
    assert api.get(f"/v1/members/{elsewhere}", after=done["position"], **STAFF).status_code == 200
    here = api.member(tree["grid"])
    assert api.post(f"/v1/members/{here}/report-ins", body, **STAFF).status_code == 200


def _resolved_by(api: Api, ticket_id: str, who: dict[str, str]) -> int:
    steps: list[tuple[str, Any]] = [
        ("accept", None),
        ("dispatch", {"level": "community", "assignee": "staff:bh-1"}),
        ("respond", {"note": "已到现场"}),
        ("resolve", {"resolution": "已清理"}),
    ]
    position = 0
    for action, body in steps:
        position = api.ok("POST", f"/v1/tickets/{ticket_id}/{action}", body, **who)["position"]
    return position


def test_a_handler_cannot_mint_valid_report_points_by_reporting_and_resolving_itself(
    api: Api, tree: dict[str, str]
) -> None:
    community = tree["community"]
    rule = {"description": "有效举报", "points": 3, "kind": "award", "trigger": "valid_report"}
    api.ok("PUT", f"/v1/jurisdictions/{community}/rulebook/rules/{unique('report')}", rule)
    friend = api.member(tree["grid"])
    ticket = {
        "category": "环境卫生",
        "description": "楼道堆物",
        "grid": tree["grid"],
        "source": "hotline",
        "reporter_member_id": friend,
    }
    own = api.ok("POST", "/v1/tickets", ticket, **STAFF)["id"]
    at = _resolved_by(api, own, STAFF)
    account = api.read(f"/v1/points/accounts/{friend}", at)
    assert account["balance"] == 0  # resolved, but no points: the recorder resolved it
    assert api.read(f"/v1/tickets/{own}", at)["status"] == "resolved"
    other = api.ok("POST", "/v1/tickets", ticket, **STAFF)["id"]
    at = _resolved_by(api, other, OTHER_STAFF)
    assert api.read(f"/v1/points/accounts/{friend}", at)["balance"] == 3  # four eyes


def test_the_leaderboard_names_only_members_the_caller_may_read(
    api: Api, tree: dict[str, str]
) -> None:
    community = tree["community"]
    code = unique("deed")
    api.ok(
        "PUT",
        f"/v1/jurisdictions/{community}/rulebook/rules/{code}",
        {"description": "好人好事", "points": 5, "kind": "award"},
    )
    neighbour = api.member(tree["grid2"], name=unique("邻居"))
    body = {
        "member_id": neighbour,
        "community": community,
        "rule_code": code,
        "source": {"kind": "inspection", "id": unique("s-")},
    }
    at = api.ok("POST", "/v1/points/awards", body, **STAFF)["position"]
    worker = {"role": "grid_worker", "sub": "staff:w-1", "scope": tree["grid"]}
    params = {"jurisdiction": community, "limit": 500}
    seen = api.read("/v1/points/leaderboard", at, params=params, **worker)["items"]
    row = next(r for r in seen if r["member_id"] == neighbour)  # the community's points
    assert row["name"] is None  # but not the person, who lives in another grid
    assert api.get(f"/v1/members/{neighbour}", **worker).status_code == 404
    staff_view = api.read("/v1/points/leaderboard", at, params=params, **STAFF)["items"]
    assert next(r for r in staff_view if r["member_id"] == neighbour)["name"] is not None
