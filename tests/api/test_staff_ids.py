"""Every staff token names a member id or a `staff:` id, and the self-dealing rules hold
for a staff member who is also a registered member (their token carries the member id)."""

from __future__ import annotations

from datetime import timedelta

from api.http.auth import issue_token
from tests.api.conftest import SECRET, Api, unique
from tests.api.test_self_dealing import _resolved_by

COLLEAGUE = {"role": "community_staff", "sub": "staff:colleague", "scope": "HG-WH-BH"}


def _get(api: Api, token: str) -> tuple[int, dict[str, object]]:
    response = api.client.get("/v1/tickets", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json()


def test_a_staff_token_whose_sub_is_neither_a_member_id_nor_a_staff_id_is_a_401(
    api: Api, tree: dict[str, str]
) -> None:
    for role in ("admin", "street_staff", "department_staff", "community_staff", "grid_worker"):
        for sub in ("alice", "admin-1", "ops:alice", "staff:", "staff:  "):
            token = issue_token(SECRET.encode(), sub=sub, role=role, scope="HG")
            status, problem = _get(api, token)
            assert status == 401, (role, sub)
            assert problem["detail"] == (
                f"invalid token: a {role} token's sub names a member id (a UUID) or a staff "
                f"id (staff:<id>), not {sub.strip()!r}"
            )
    before = api.events()
    bare = issue_token(SECRET.encode(), sub="alice", role="admin", scope="*")
    made = api.client.post(
        "/v1/organisations", json={"name": "单位"}, headers={"Authorization": f"Bearer {bare}"}
    )
    assert made.status_code == 401 and made.headers["content-type"] == "application/problem+json"
    assert api.events() == before
    member = api.member(tree["grid"])
    for role, sub in (
        ("community_staff", "staff:alice"),
        ("community_staff", member),
        ("community_staff", member.upper()),
        ("resident", member),
        ("auditor", "auditor-7"),  # runs no command: any sub
    ):
        token = issue_token(SECRET.encode(), sub=sub, role=role, scope="HG")
        assert _get(api, token)[0] == 200, (role, sub)


def test_a_staff_member_cannot_award_points_to_themselves_nor_approve_an_award_to_them(
    api: Api, tree: dict[str, str]
) -> None:
    community = tree["community"]
    code = unique("deed")
    body = {"description": code, "points": 20, "kind": "award", "requires_approval": True}
    api.ok("PUT", f"/v1/jurisdictions/{community}/rulebook/rules/{code}", body)
    me = api.member(tree["grid"])
    as_staff = {"role": "community_staff", "sub": me, "scope": community}
    # the same person, the id spelt another way: still them
    as_staff_shouting = {**as_staff, "sub": me.upper()}
    award = {"member_id": me, "community": community, "rule_code": code,
             "source": {"kind": "inspection", "id": unique("src")}}  # fmt: skip
    before = api.events()
    for who in (as_staff, as_staff_shouting):
        refused = api.post("/v1/points/awards", award, **who)
        assert refused.status_code == 409, refused.text
        assert refused.json()["rule"] == "points.self_award"
    assert api.events() == before
    pending = api.ok("POST", "/v1/points/awards", award, **COLLEAGUE)
    path = f"/v1/points/awards/{pending['entry_id']}/approve"
    before = api.events()
    for who in (as_staff, as_staff_shouting):
        refused = api.post(path, **who)
        assert refused.status_code == 409, refused.text
        assert refused.json()["rule"] == "points.self_approval"
    assert api.events() == before
    entry = api.read(f"/v1/points/entries/{pending['entry_id']}", pending["position"])
    assert entry["status"] == "pending"
    other = api.member(tree["grid"])
    approver = {"role": "community_staff", "sub": other, "scope": community}
    assert api.ok("POST", path, None, **approver)["status"] == "posted"


def test_a_staff_member_cannot_verify_their_own_pledge_session(
    api: Api, tree: dict[str, str]
) -> None:
    community = tree["community"]
    me = api.member(tree["grid"], party_member=True)
    as_staff = {"role": "grid_worker", "sub": me, "scope": tree["grid"]}
    due = (api.clock.now + timedelta(days=30)).date().isoformat()
    body = {"member_id": me, "community": community, "kind": "service_item",
            "title": "每周为独居老人送餐", "target_hours": "3", "due_on": due}  # fmt: skip
    pledge = api.ok("POST", "/v1/pledges", body, **COLLEAGUE)["id"]
    api.ok("POST", f"/v1/pledges/{pledge}/accept", None, **COLLEAGUE)
    today = api.clock.now.date().isoformat()
    api.ok("POST", f"/v1/pledges/{pledge}/sessions", {"hours": 3, "on": today}, **COLLEAGUE)
    before = api.events()
    for who in (as_staff, {**as_staff, "sub": me.upper()}):
        refused = api.post(f"/v1/pledges/{pledge}/sessions/1/verify", **who)
        assert refused.status_code == 409, refused.text
        assert refused.json()["detail"].startswith("a member cannot verify their own sessions")
    assert api.events() == before
    verified = api.ok("POST", f"/v1/pledges/{pledge}/sessions/1/verify", None, **COLLEAGUE)
    assert verified["status"] == "fulfilled"


def test_a_staff_member_cannot_mint_valid_report_points_for_themselves_or_a_chosen_one(
    api: Api, tree: dict[str, str]
) -> None:
    community = tree["community"]
    rule = {"description": "有效举报", "points": 3, "kind": "award", "trigger": "valid_report"}
    api.ok("PUT", f"/v1/jurisdictions/{community}/rulebook/rules/{unique('report')}", rule)
    me, friend = api.member(tree["grid"]), api.member(tree["grid"])
    as_staff = {"role": "community_staff", "sub": me, "scope": community}
    ticket = {"category": "环境卫生", "description": "楼道堆物", "grid": tree["grid"],
              "source": "hotline"}  # fmt: skip
    for reporter, recorder, resolver in (
        (me, as_staff, as_staff),  # names themselves, resolves it
        (me, COLLEAGUE, as_staff),  # a colleague names them; they resolve it
        (friend, as_staff, as_staff),  # names a friend, resolves it
        (friend, as_staff, {**as_staff, "sub": me.upper()}),  # the same, id spelt otherwise
    ):
        made = api.ok("POST", "/v1/tickets", {**ticket, "reporter_member_id": reporter}, **recorder)
        at = _resolved_by(api, made["id"], resolver)
        assert api.read(f"/v1/tickets/{made['id']}", at)["status"] == "resolved"
        assert api.read(f"/v1/points/accounts/{reporter}", at)["balance"] == 0, reporter
    made = api.ok("POST", "/v1/tickets", {**ticket, "reporter_member_id": friend}, **as_staff)
    at = _resolved_by(api, made["id"], COLLEAGUE)  # four eyes: points
    assert api.read(f"/v1/points/accounts/{friend}", at)["balance"] == 3


def test_commands_naming_a_member_the_caller_cannot_read_answer_as_for_an_unknown_id(
    api: Api, tree: dict[str, str]
) -> None:
    community = tree["community"]
    award, deduction = unique("deed"), unique("litter")
    for code, kind in ((award, "award"), (deduction, "deduction")):
        rule = {"description": code, "points": 2, "kind": kind}
        api.ok("PUT", f"/v1/jurisdictions/{community}/rulebook/rules/{code}", rule)
    starts = api.clock.now - timedelta(hours=1)
    ends = starts + timedelta(hours=2)
    body = {"title": "清洁", "jurisdiction": community, "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat()}  # fmt: skip
    activity = api.ok("POST", "/v1/activities", body, **COLLEAGUE)["id"]
    due = (api.clock.now + timedelta(days=30)).date().isoformat()

    def commands(member: str) -> list[tuple[str, dict[str, object]]]:
        source = {"kind": "inspection", "id": unique("s")}
        return [
            (f"/v1/activities/{activity}/check-ins", {"member_id": member}),
            ("/v1/pledges", {"member_id": member, "community": community, "kind": "commitment",
                             "title": "清理小广告", "target_hours": "2", "due_on": due}),
            ("/v1/points/awards", {"member_id": member, "community": community,
                                   "rule_code": award, "source": source}),
            ("/v1/points/deductions", {"member_id": member, "community": community,
                                       "rule_code": deduction, "source": source, "note": "乱扔"}),
        ]  # fmt: skip

    elsewhere = api.member(tree["other_grid"])
    before = api.events()
    for member in (elsewhere, "00000000-0000-0000-0000-00000000abce"):
        for path, body in commands(member):
            answer = api.post(path, body, **COLLEAGUE)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["detail"] == f"Member {member} does not exist (member.exists)"
    assert api.events() == before
    here = api.member(tree["grid"])
    for path, body in commands(here):
        assert api.post(path, body, **COLLEAGUE).status_code in (200, 201), path
