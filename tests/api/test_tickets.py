"""Tickets through HTTP: the lifecycle, queues, timelines and refusals."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

WORKER = {"role": "grid_worker", "sub": "staff:worker-1", "scope": "HG-WH-BH-01"}
STAFF = {"role": "community_staff", "sub": "staff:1", "scope": "HG-WH-BH"}


def report(api: Api, grid: str, **fields: Any) -> dict[str, Any]:
    body = {
        "category": "环境卫生",
        "description": "楼道堆物",
        "grid": grid,
        "source": "grid_worker",
    }
    who = fields.pop("who", WORKER)
    return api.ok("POST", "/v1/tickets", {**body, **fields}, **who)


def handle(api: Api, ticket_id: str, *steps: tuple[str, dict[str, Any] | None]) -> int:
    position = 0
    for action, body in steps:
        position = api.ok("POST", f"/v1/tickets/{ticket_id}/{action}", body, **STAFF)["position"]
    return position


UNTIL_RESPONDED = (
    ("accept", None),
    ("dispatch", {"level": "grid", "assignee": "worker-1"}),
    ("respond", {"note": "已到现场"}),
)


def test_a_resident_reports_a_ticket_handled_to_the_end_and_rates_it(api: Api, tree) -> None:
    resident = api.member(tree["grid"])
    who = {"role": "resident", "sub": resident, "scope": tree["community"]}
    created = api.post(
        "/v1/tickets",
        {
            "category": "环境卫生",
            "description": "楼道堆物",
            "grid": tree["grid"],
            "source": "resident",
            "location": {"address": "北环路 3 号", "lat": 39.93, "lon": 119.6},
        },
        **who,
    )
    assert created.status_code == 201, created.text
    ticket_id = created.json()["id"]
    assert created.headers["location"] == f"/v1/tickets/{ticket_id}"
    handle(api, ticket_id, *UNTIL_RESPONDED, ("resolve", {"resolution": "已清理"}))
    rated = api.ok("POST", f"/v1/tickets/{ticket_id}/rate", {"satisfaction": "satisfied"}, **who)
    position = handle(api, ticket_id, ("visit", {"note": "回访满意"}), ("close", None))
    assert position > rated["position"]
    ticket = api.read(f"/v1/tickets/{ticket_id}", position)
    assert ticket["status"] == "closed"
    assert ticket["satisfaction"] == "satisfied"
    assert ticket["reporter_member_id"] == resident
    assert ticket["response_overdue"] is False
    timeline = api.read(f"/v1/tickets/{ticket_id}/timeline", position)
    events = [e["event_type"] for e in timeline["items"]]
    assert events[0] == "Reported" and events[-1] == "Closed"
    assert timeline["items"][0]["actor_id"] == resident
    assert timeline["items"][0]["actor_role"] == "resident"


def test_a_timeline_links_to_the_audit_log_of_the_same_events(api: Api, tree) -> None:
    ticket_id = report(api, tree["grid"])["id"]
    position = handle(api, ticket_id, ("accept", None))
    answer = api.get(f"/v1/tickets/{ticket_id}/timeline", after=position, **STAFF)
    assert answer.status_code == 200
    timeline = answer.json()
    stream_path = f"/v1/audit/streams/{ticket_id}"
    assert timeline["audit_stream"] == stream_path
    assert answer.headers["Link"] == f'<{stream_path}>; rel="audit-stream"'
    stream = api.read(timeline["audit_stream"], position, role="auditor")
    assert [(e["position"], e["version"]) for e in stream["items"]] == [
        (e["position"], e["version"]) for e in timeline["items"]
    ]
    accepted = timeline["items"][-1]
    assert accepted["audit_state"] == f"{stream_path}/state?version={accepted['version']}"
    state_path, query = accepted["audit_state"].split("?")
    version = int(query.removeprefix("version="))
    state = api.read(state_path, position, params={"version": version}, role="auditor")
    assert state["version"] == accepted["version"]
    assert state["state"]["status"] == "accepted"
    assert api.get(timeline["audit_stream"], **STAFF).status_code == 403


def test_an_action_the_status_forbids_is_a_409_and_records_nothing(api: Api, tree) -> None:
    ticket_id = report(api, tree["grid"])["id"]
    before = api.events()
    response = api.post(f"/v1/tickets/{ticket_id}/close", **STAFF)
    assert response.status_code == 409
    assert response.json()["rule"] == "ticket.transition"
    assert api.events() == before


def test_someone_else_rating_a_residents_ticket_is_refused(api: Api, tree) -> None:
    resident = api.member(tree["grid"])
    ticket_id = report(api, tree["grid"], source="resident", reporter_member_id=resident)["id"]
    handle(api, ticket_id, *UNTIL_RESPONDED, ("resolve", {"resolution": "已清理"}))
    other = api.member(tree["grid"])
    as_other = {"role": "resident", "sub": other, "scope": tree["community"]}
    body = {"satisfaction": "dissatisfied"}
    assert api.post(f"/v1/tickets/{ticket_id}/rate", body, **as_other).status_code == 403
    by_staff = api.post(f"/v1/tickets/{ticket_id}/rate", body, **STAFF)
    assert by_staff.status_code == 409
    assert by_staff.json()["rule"] == "ticket.rated_by_reporter"


def test_escalation_reopening_and_a_duplicate_rejection(api: Api, tree) -> None:
    ticket_id = report(api, tree["grid"])["id"]
    handle(
        api,
        ticket_id,
        ("accept", None),
        ("dispatch", {"level": "grid", "assignee": "worker-1"}),
        ("escalate", {"to_level": "street", "reason": "需要执法"}),
        ("dispatch", {"level": "street", "assignee": "street-team"}),
        ("supervise", {"note": "加快办理"}),
        ("respond", {"note": "收到"}),
        ("resolve", {"resolution": "已处理"}),
    )
    position = handle(api, ticket_id, ("reopen", {"reason": "问题复发"}))
    ticket = api.read(f"/v1/tickets/{ticket_id}", position)
    assert (ticket["status"], ticket["level"]) == ("dispatched", "street")
    assert (ticket["escalation_count"], ticket["reopen_count"]) == (1, 1)
    twin = report(api, tree["grid"])["id"]
    rejected = handle(api, twin, ("reject", {"reason": "duplicate", "duplicate_of": ticket_id}))
    assert api.read(f"/v1/tickets/{twin}", rejected)["status"] == "rejected"
    unknown = {"reason": "duplicate", "duplicate_of": "00000000-0000-0000-0000-000000000000"}
    other = report(api, tree["grid"])["id"]
    assert api.post(f"/v1/tickets/{other}/reject", unknown, **STAFF).status_code == 404


def test_queues_filter_by_subtree_status_level_overdue_and_time(api: Api, tree) -> None:
    late = report(api, tree["grid2"], priority="urgent", who={**WORKER, "scope": tree["grid2"]})
    api.clock.advance(hours=2)
    position = handle(api, late["id"], *UNTIL_RESPONDED)
    fresh = report(api, tree["other_grid"], who={**WORKER, "scope": tree["other_grid"]})
    position = max(position, fresh["position"])

    def ids(**params: Any) -> list[str]:
        return [t["id"] for t in api.read("/v1/tickets", position, params=params)["items"]]

    assert late["id"] in ids(grid=tree["community"], overdue=True)
    assert fresh["id"] not in ids(grid=tree["community"])
    assert fresh["id"] in ids(grid=tree["street"], status="reported")
    assert late["id"] not in ids(overdue=False)
    assert late["id"] in ids(level="grid", status="responded")
    assert ids(**{"from": api.clock.now.isoformat()}) == [fresh["id"]]
    assert fresh["id"] not in ids(to=api.clock.now.isoformat())
    assert api.get("/v1/tickets", params={"from": "yesterday"}).status_code == 422
    assert api.get("/v1/tickets", params={"status": "lost"}).status_code == 422


def test_an_unknown_ticket_is_a_404_for_reads_and_actions(api: Api) -> None:
    missing = "00000000-0000-0000-0000-0000000000aa"
    assert api.get(f"/v1/tickets/{missing}").status_code == 404
    assert api.get(f"/v1/tickets/{missing}/timeline").status_code == 404
    assert api.post(f"/v1/tickets/{missing}/accept", **STAFF).status_code == 404
