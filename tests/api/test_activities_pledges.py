"""Activities and pledges through HTTP."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import Api

STAFF = {"role": "community_staff", "sub": "staff:1", "scope": "HG-WH-BH"}
WORKER = {"role": "grid_worker", "sub": "staff:worker-1", "scope": "HG-WH-BH-01"}


def schedule(api: Api, jurisdiction: str, hours_ago: float = 1, length: float = 2) -> str:
    starts = api.clock.now - timedelta(hours=hours_ago)
    body = {
        "title": "楼道清洁志愿服务",
        "jurisdiction": jurisdiction,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=length)).isoformat(),
    }
    created = api.post("/v1/activities", body, **STAFF)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/v1/activities/{created.json()['id']}"
    return str(created.json()["id"])


def test_members_check_in_and_out_and_the_activity_closes_with_their_hours(api: Api, tree) -> None:
    activity_id = schedule(api, tree["grid"])
    worker_checks, resident = api.member(tree["grid"]), api.member(tree["grid"])
    myself = {"role": "resident", "sub": resident, "scope": tree["community"]}
    start = api.clock.now - timedelta(hours=1)
    api.ok(
        "POST",
        f"/v1/activities/{activity_id}/check-ins",
        {"member_id": worker_checks, "at": start.isoformat()},
        **WORKER,
    )
    api.ok("POST", f"/v1/activities/{activity_id}/check-ins", {"member_id": resident}, **myself)
    out = api.ok(
        "POST", f"/v1/activities/{activity_id}/check-outs", {"member_id": worker_checks}, **WORKER
    )
    assert out["hours"] == 1.0
    closed = api.ok("POST", f"/v1/activities/{activity_id}/close", None, **STAFF)
    assert (closed["attendees"], closed["completed"], closed["awarded"]) == (2, 1, 0)
    activity = api.read(f"/v1/activities/{activity_id}", closed["position"])
    assert activity["status"] == "closed"
    hours = {a["member_id"]: a["hours"] for a in activity["attendance"]}
    assert hours == {worker_checks: 1.0, resident: 0.0}
    listed = api.read(
        "/v1/activities",
        closed["position"],
        params={"jurisdiction": tree["community"], "status": "closed"},
    )
    assert activity_id in [a["id"] for a in listed["items"]]
    member = api.read(f"/v1/members/{worker_checks}", closed["position"])
    assert member["volunteer_hours"] == 1.0


def test_a_resident_checks_in_only_themselves_and_twice_is_a_409(api: Api, tree) -> None:
    activity_id = schedule(api, tree["grid"])
    resident, neighbour = api.member(tree["grid"]), api.member(tree["grid"])
    myself = {"role": "resident", "sub": resident, "scope": tree["community"]}
    path = f"/v1/activities/{activity_id}/check-ins"
    assert api.post(path, {"member_id": neighbour}, **myself).status_code == 403
    api.ok("POST", path, {"member_id": resident}, **myself)
    again = api.post(path, {"member_id": resident}, **myself)
    assert again.status_code == 409
    assert again.json()["rule"] == "activity.double_check_in"


def test_an_activity_ending_before_it_starts_is_a_422_and_one_cancelled_says_why(
    api: Api, tree
) -> None:
    now = api.clock.now
    backwards = {
        "title": "x",
        "jurisdiction": tree["grid"],
        "starts_at": now.isoformat(),
        "ends_at": (now - timedelta(hours=1)).isoformat(),
    }
    assert api.post("/v1/activities", backwards, **STAFF).status_code == 422
    naive = {**backwards, "starts_at": "2026-03-01T08:00:00", "ends_at": "2026-03-01T09:00:00"}
    assert api.post("/v1/activities", naive, **STAFF).status_code == 422
    activity_id = schedule(api, tree["grid"], hours_ago=-24)
    done = api.ok("POST", f"/v1/activities/{activity_id}/cancel", {"reason": "暴雨"}, **STAFF)
    assert api.read(f"/v1/activities/{activity_id}", done["position"])["status"] == "cancelled"
    assert api.get("/v1/activities/00000000-0000-0000-0000-000000000000").status_code == 404


def test_a_pledge_is_accepted_served_verified_fulfilled_and_reviewed(api: Api, tree) -> None:
    member_id = api.member(tree["grid"], party_member=True)
    myself = {"role": "resident", "sub": member_id, "scope": tree["community"]}
    due = (api.clock.now + timedelta(days=30)).date().isoformat()
    body = {"member_id": member_id, "community": tree["community"], "kind": "service_item",
            "title": "每周为独居老人送餐", "target_hours": "3", "due_on": due}  # fmt: skip
    created = api.post("/v1/pledges", body, **myself)
    assert created.status_code == 201, created.text
    pledge_id = created.json()["id"]
    api.ok("POST", f"/v1/pledges/{pledge_id}/accept", None, **STAFF)
    today = api.clock.now.date().isoformat()
    logged = api.ok(
        "POST", f"/v1/pledges/{pledge_id}/sessions", {"hours": 3, "on": today}, **myself
    )
    assert logged["session_no"] == 1
    mine = api.post(f"/v1/pledges/{pledge_id}/sessions/1/verify", **myself)
    assert mine.status_code == 403
    verified = api.ok("POST", f"/v1/pledges/{pledge_id}/sessions/1/verify", None, **WORKER)
    assert verified["status"] == "fulfilled"
    reviewed = api.ok("POST", f"/v1/pledges/{pledge_id}/review", {"rating": 5}, **STAFF)
    pledge = api.read(f"/v1/pledges/{pledge_id}", reviewed["position"])
    assert (pledge["status"], pledge["verified_hours"], pledge["review"]["rating"]) == (
        "fulfilled",
        3.0,
        5,
    )
    assert [s["verified"] for s in pledge["sessions"]] == [True]
    listed = api.read("/v1/pledges", reviewed["position"], params={"member_id": member_id})
    assert [p["id"] for p in listed["items"]] == [pledge_id]
    again = api.post(f"/v1/pledges/{pledge_id}/review", {"rating": 4}, **STAFF)
    assert again.status_code == 409
    assert again.json()["rule"] == "pledge.reviewed_once"


def test_a_pledge_for_someone_else_sessions_beyond_a_day_and_unknown_sessions(
    api: Api, tree
) -> None:
    member_id, other = api.member(tree["grid"]), api.member(tree["grid"])
    due = (api.clock.now + timedelta(days=10)).date().isoformat()
    body = {"member_id": other, "community": tree["community"], "kind": "commitment",
            "title": "清理小广告", "target_hours": "5", "due_on": due}  # fmt: skip
    as_member = {"role": "resident", "sub": member_id, "scope": tree["community"]}
    assert api.post("/v1/pledges", body, **as_member).status_code == 403
    pledge_id = api.ok("POST", "/v1/pledges", body, **STAFF)["id"]
    api.ok("POST", f"/v1/pledges/{pledge_id}/accept", None, **STAFF)
    today = api.clock.now.date().isoformat()
    assert (
        api.post(
            f"/v1/pledges/{pledge_id}/sessions", {"hours": 25, "on": today}, **STAFF
        ).status_code
        == 422
    )
    assert api.post(f"/v1/pledges/{pledge_id}/sessions/9/verify", **WORKER).status_code == 404
    withdrawn = api.ok("POST", f"/v1/pledges/{pledge_id}/withdraw", {"reason": "工作调动"}, **STAFF)
    assert api.read(f"/v1/pledges/{pledge_id}", withdrawn["position"])["status"] == "withdrawn"
