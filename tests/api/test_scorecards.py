"""Scorecards: each formula on a hand-built scenario with known answers, as-of
reproducibility, policy versions, who may read, and errors.

The scenario (fake clock, through HTTP), in the grid `tree['grid']`:
- t1: reported, accepted, dispatched to the worker, answered in 30 min, resolved,
  rated satisfied, closed (handled in the grid);
- t2: reported, accepted, dispatched, answered 2 h late, escalated to the street,
  dispatched there, resolved after its deadline, rated basically satisfied;
- t3: reported and rejected as invalid.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.api.conftest import Api

POLICY = {
    "weights": {"response": 0.2, "handling": 0.4, "satisfaction": 0.4},
    "basically_satisfied_weight": 0.5,
    "min_cases": 1,
    "stars": [
        {"figure": "tickets_handled", "threshold": 2},
        {"figure": "response_in_time_rate", "threshold": 0.5},
        {"figure": "satisfaction_rate", "threshold": 0.9},
        {"figure": "handling_rate", "threshold": 0.1},
        {"figure": "three_rates_score", "threshold": 0.1},
    ],
}
Scenario = dict[str, Any]


def _act(api: Api, ticket: str, action: str, body: Any = None, **who: str) -> None:
    api.ok("POST", f"/v1/tickets/{ticket}/{action}", body, **who)


@pytest.fixture(scope="module")
def scenario(api: Api, tree: dict[str, str]) -> Scenario:
    api.ok("PUT", f"/v1/assessment-policies/{tree['district']}", POLICY)
    start = api.clock.now
    reporter = api.member(tree["grid"])
    worker = api.member(tree["grid"])
    as_worker = {"role": "grid_worker", "sub": worker, "scope": tree["grid"]}
    as_reporter = {"role": "resident", "sub": reporter, "scope": tree["grid"]}
    body = {"category": "环境卫生", "description": "楼道堆物", "grid": tree["grid"],
            "source": "resident", "reporter_member_id": reporter}  # fmt: skip
    t1 = api.ok("POST", "/v1/tickets", body)["id"]
    t2 = api.ok("POST", "/v1/tickets", body)["id"]
    t3 = api.ok("POST", "/v1/tickets", body)["id"]
    _act(api, t3, "reject", {"reason": "invalid"})
    for ticket in (t1, t2):
        _act(api, ticket, "accept")
        _act(api, ticket, "dispatch", {"level": "grid", "assignee": worker})
    api.clock.advance(minutes=30)
    _act(api, t1, "respond", {"note": "到场"}, **as_worker)
    api.clock.advance(minutes=30)
    _act(api, t1, "resolve", {"resolution": "清理"}, **as_worker)
    _act(api, t1, "rate", {"satisfaction": "satisfied"}, **as_reporter)
    _act(api, t1, "close")
    api.clock.advance(hours=1)
    _act(api, t2, "respond", {"note": "迟到"}, **as_worker)
    _act(api, t2, "escalate", {"to_level": "street", "reason": "需执法"})
    _act(api, t2, "dispatch", {"level": "street", "assignee": "综合执法队"})
    _act(api, t2, "respond", {"note": "到场"})
    api.clock.advance(hours=100)
    _act(api, t2, "resolve", {"resolution": "拆除"})
    _act(api, t2, "rate", {"satisfaction": "basically_satisfied"}, **as_reporter)
    api.clock.advance(minutes=1)
    return {"start": start, "end": api.clock.now + timedelta(days=1), "worker": worker,
            "t1": t1, "t2": t2, "reporter": reporter, "as_of": api.clock.now}  # fmt: skip


def _card(api: Api, path: str, s: Scenario, **params: Any) -> dict[str, Any]:
    query = {"from": s["start"].isoformat(), "to": s["end"].isoformat(), **params}
    return api.read(path, api.last, params=query)


def test_counts_and_each_rate_have_their_known_values(
    api: Api, tree: dict[str, str], scenario: Scenario
) -> None:
    card = _card(api, f"/v1/scorecards/{tree['community']}", scenario)
    assert card["tickets"] == {"received": 3, "accepted": 2, "rejected": 1, "dispatched": 2,
                               "closed": 1, "rated": 2, "overdue_open": 0}  # fmt: skip
    rates = card["rates"]
    assert rates["response_in_time_rate"] == {
        "value": 0.5, "numerator": 1, "denominator": 2, "reason": None}  # fmt: skip
    assert (rates["handling_rate"]["numerator"], rates["handling_rate"]["denominator"]) == (1, 3)
    assert rates["handling_rate"]["value"] == 0.3333
    assert rates["grid_handling_rate"]["value"] == 0.3333
    assert rates["on_time_resolution_rate"]["value"] == 0.5  # t2 resolved late
    assert rates["escalation_rate"]["street"]["value"] == 0.5
    assert rates["escalation_rate"]["community"]["value"] == 0.0
    assert rates["satisfaction_rate"] == {
        "value": 0.75, "numerator": 1.5, "denominator": 2, "reason": None}  # fmt: skip
    assert rates["reopen_rate"]["value"] == 0.0
    assert rates["three_rates_score"]["value"] == round(0.2 * 0.5 + 0.4 / 3 + 0.4 * 0.75, 4)
    assert card["times"]["avg_response_hours"] == 1.25  # 0.5 h and 2 h
    assert card["policy"]["jurisdiction"] == tree["district"]
    assert card["policy"]["version"] == 1


def test_the_worker_scorecard_counts_their_tickets_and_explains_each_star(
    api: Api, scenario: Scenario
) -> None:
    card = _card(api, f"/v1/scorecards/workers/{scenario['worker']}", scenario)
    assert card["tickets"]["received"] == 2
    stars = card["stars"]
    assert [rule["met"] for rule in stars["rules"]] == [True, True, False, True, True]
    assert stars["earned"] == 2  # star 3 (satisfaction 0.75 < 0.9) stops the ladder
    assert stars["rules"][2]["rule"] == "satisfaction_rate >= 0.9"
    assert stars["rules"][2]["value"] == 0.75


def test_a_rate_below_the_minimum_is_null_with_a_reason(
    api: Api, tree: dict[str, str], scenario: Scenario
) -> None:
    policy = {**POLICY, "min_cases": 3}
    api.ok("PUT", f"/v1/assessment-policies/{tree['community']}", policy)
    card = _card(api, f"/v1/scorecards/{tree['grid']}", scenario)
    assert card["policy"] == {**card["policy"], "jurisdiction": tree["community"], "version": 1}
    assert card["rates"]["handling_rate"]["value"] is not None  # 3 received
    response = card["rates"]["response_in_time_rate"]
    assert response["value"] is None and response["denominator"] == 2
    assert "fewer than 3" in response["reason"]
    assert card["rates"]["three_rates_score"]["value"] is None


def test_as_of_is_unchanged_by_later_events_and_policy_versions(
    api: Api, tree: dict[str, str], scenario: Scenario
) -> None:
    path = f"/v1/scorecards/{tree['district']}"
    before = _card(api, path, scenario, as_of=scenario["as_of"].isoformat())
    assert before == {**_card(api, path, scenario), "as_of": before["as_of"]}
    api.clock.advance(minutes=5)
    _act(api, scenario["t1"], "reopen", {"reason": "复发"})
    _act(api, scenario["t1"], "respond", {"note": "再到场"})
    _act(api, scenario["t1"], "escalate", {"to_level": "community", "reason": "r"})
    changed = {**POLICY, "basically_satisfied_weight": 1.0}
    answer = api.ok("PUT", f"/v1/assessment-policies/{tree['district']}", changed)
    assert answer["policy_version"] == 2
    now = _card(api, path, scenario)
    assert now["policy"]["version"] == 2
    assert now["rates"]["escalation_rate"]["community"]["value"] == 0.5
    assert now["tickets"]["closed"] == 0
    assert _card(api, path, scenario, as_of=scenario["as_of"].isoformat()) == before
    assert before["policy"]["version"] == 1


def test_the_policy_answers_its_versions_and_as_of(
    api: Api, tree: dict[str, str], scenario: Scenario
) -> None:
    answer = api.read(f"/v1/assessment-policies/{tree['district']}", api.last)
    assert answer["version"] >= 1 and answer["defined_at"] == tree["district"]
    old = api.read(
        f"/v1/assessment-policies/{tree['other_grid']}",
        api.last,
        params={"as_of": (scenario["start"] - timedelta(seconds=1)).isoformat()},
    )
    assert old["version"] == 0 and old["defined_at"] is None


def test_a_resident_may_not_read_and_errors_are_problems(
    api: Api, tree: dict[str, str], scenario: Scenario
) -> None:
    who = {"role": "resident", "sub": scenario["reporter"], "scope": tree["grid"]}
    query = {"from": "2026-01-01", "to": "2026-02-01"}
    assert api.get(f"/v1/scorecards/{tree['grid']}", params=query, **who).status_code == 403
    assert api.get("/v1/scorecards/NOWHERE", params=query).status_code == 404
    unknown = "/v1/scorecards/workers/00000000-0000-0000-0000-000000000000"
    assert api.get(unknown, params=query).status_code == 404
    for bad in ({"from": "2026-02-01", "to": "2026-01-01"}, {"from": "x", "to": "2026-01-01"},
                {"to": "2026-01-01"}):  # fmt: skip
        response = api.get(f"/v1/scorecards/{tree['grid']}", params=bad)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    before = api.events()
    refused = api.put(f"/v1/assessment-policies/{tree['district']}", {**POLICY, "min_cases": 0})
    assert refused.status_code == 422
    weights = {**POLICY, "weights": {"response": 0.5, "handling": 0.5, "satisfaction": 0.5}}
    assert api.put(f"/v1/assessment-policies/{tree['district']}", weights).status_code == 422
    staff = {"role": "community_staff", "sub": "staff:s", "scope": tree["community"]}
    policy_path = f"/v1/assessment-policies/{tree['district']}"
    assert api.put(policy_path, POLICY, **staff).status_code == 403
    assert api.events() == before


def test_the_files_and_the_monthly_series_match_the_scorecard(
    api: Api, tree: dict[str, str], scenario: Scenario
) -> None:
    import psycopg

    from projections.analysis.scorecard_series import monthly_series
    from projections.analysis.scorecards import Period

    path = f"/v1/scorecards/{tree['street']}"
    card = _card(api, path, scenario)
    query = {"from": scenario["start"].isoformat(), "to": scenario["end"].isoformat()}
    xlsx = api.get(path, after=api.last, params={**query, "format": "xlsx"})
    assert xlsx.status_code == 200, xlsx.text
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header == ("Figure / 指标", "Value / 数值", "Rate / 比率", "Numerator / 分子",
                      "Denominator / 分母", "Note / 说明")  # fmt: skip
    named = {row[0]: row for row in rows}
    handling = card["rates"]["handling_rate"]
    assert named["Handling rate / 办结率"][2:5] == (
        pytest.approx(handling["value"]),
        handling["numerator"],
        handling["denominator"],
    )
    assert named["Tickets received / 受理事项数"][1] == card["tickets"]["received"]
    text = api.get(path, after=api.last, params={**query, "format": "csv"}).content
    lines = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert [line[0] for line in lines[1:]] == [row[0] for row in rows]
    worker = f"/v1/scorecards/workers/{scenario['worker']}"
    assert api.get(worker, after=api.last, params={**query, "format": "csv"}).status_code == 200
    assert api.get(path, params={**query, "format": "pdf"}).status_code == 422
    period = Period(scenario["start"], scenario["end"], None)
    with psycopg.connect(api.url) as conn:
        series = monthly_series(conn, tree["street"], 2, period, POLICY, api.clock.now)
    assert {row["jurisdiction"] for row in series} == {tree["community"]}
    assert sum(row["received"] for row in series) == card["tickets"]["received"]


def test_the_worker_scorecard_shows_their_own_volunteer_hours_and_points(
    api: Api, tree: dict[str, str], scenario: Scenario
) -> None:
    worker = scenario["worker"]
    staff = {"role": "community_staff", "sub": "staff:1", "scope": tree["community"]}
    api.clock.advance(minutes=1)  # recorded after the scenario's as_of, whatever ran before
    began = api.clock.now - timedelta(hours=2)
    activity = api.ok("POST", "/v1/activities", {
        "title": "楼道清洁志愿服务", "jurisdiction": tree["grid"], "starts_at": began.isoformat(),
        "ends_at": (began + timedelta(hours=3)).isoformat()}, **staff)["id"]  # fmt: skip
    api.ok("POST", f"/v1/activities/{activity}/check-ins",
           {"member_id": worker, "at": began.isoformat()}, **staff)  # fmt: skip
    api.ok("POST", f"/v1/activities/{activity}/check-outs", {"member_id": worker}, **staff)
    rule = {"description": "sc", "points": 7, "kind": "award"}
    api.ok("PUT", f"/v1/jurisdictions/{tree['community']}/rulebook/rules/sc_help", rule)
    award = {"member_id": worker, "community": tree["community"], "rule_code": "sc_help",
             "source": {"kind": "inspection", "id": "sc-1"}}  # fmt: skip
    api.ok("POST", "/v1/points/awards", award, **staff)
    card = _card(api, f"/v1/scorecards/workers/{worker}", scenario)
    assert card["volunteering"] == {"verified_hours": 2.0, "pledge_hours": 0.0,
                                    "activity_hours": 2.0, "participations": 1,
                                    "participants": 1}  # fmt: skip
    assert card["points"] == {"issued": 7, "redeemed": 0, "deducted": 0}
    before = _card(api, f"/v1/scorecards/workers/{worker}", scenario,
                   as_of=scenario["as_of"].isoformat())  # fmt: skip
    assert before["volunteering"]["participations"] == 0 and before["points"]["issued"] == 0
    other = _card(api, f"/v1/scorecards/workers/{scenario['reporter']}", scenario)
    assert other["volunteering"]["verified_hours"] == 0.0 and other["points"]["issued"] == 0


def test_a_scorecard_on_spare_connections_is_the_same_and_one_snapshot(
    api: Api, tree: dict[str, str], scenario: Scenario
) -> None:
    import psycopg
    from psycopg.pq import TransactionStatus

    from projections.analysis.scorecards import Period, jurisdiction_scorecard, path_of
    from projections.store.snapshot import one_snapshot

    connect = lambda: psycopg.connect(api.url, autocommit=True)  # noqa: E731
    with connect() as conn, connect() as first, connect() as second, connect() as writer:
        place = path_of(conn, tree["street"])
        assert place is not None
        period = Period(scenario["start"], scenario["end"], None)
        alone = jurisdiction_scorecard(conn, tree["street"], *place, period, api.clock.now)
        shared = jurisdiction_scorecard(
            conn, tree["street"], *place, period, api.clock.now, [first, second]
        )
        assert shared == alone and alone["tickets"]["received"] == 3
        idle = TransactionStatus.IDLE
        assert {c.info.transaction_status for c in (conn, first, second)} == {idle}
        writer.execute("CREATE TABLE IF NOT EXISTS snapshot_probe (n int)")
        with one_snapshot(conn, [first]) as joined:
            writer.execute("INSERT INTO snapshot_probe VALUES (1)")
            (seen,) = joined[0].execute("SELECT count(*) FROM snapshot_probe").fetchone() or (0,)
            (own,) = conn.execute("SELECT count(*) FROM snapshot_probe").fetchone() or (0,)
        (now,) = first.execute("SELECT count(*) FROM snapshot_probe").fetchone() or (0,)
        writer.execute("DROP TABLE snapshot_probe")
        assert (seen, own, now) == (0, 0, 1)


def test_late_responses_count_only_once_their_deadline_has_passed(
    api: Api, tree: dict[str, str], scenario: Scenario
) -> None:
    import psycopg

    from projections.analysis.scorecards import Period, ticket_figures

    period = Period(scenario["start"], scenario["end"], None)
    with psycopg.connect(api.url, autocommit=True) as conn:
        raw = ticket_figures(conn, period, code=tree["community"], now=scenario["as_of"])
        before_due = ticket_figures(conn, period, code=tree["community"], now=scenario["start"])
    assert (raw["dispatched"], raw["in_time"], raw["response_late"]) == (2, 1, 1)
    assert before_due["response_late"] == 1  # t2 answered late: late whatever the hour
    start = scenario["start"]  # t2 is due an hour after it, and answered two hours after
    with psycopg.connect(api.url, autocommit=True) as conn:
        at = {
            minutes: ticket_figures(
                conn, Period(start, scenario["end"], start + timedelta(minutes=minutes)),
                code=tree["community"], now=scenario["as_of"],
            )["response_late"]
            for minutes in (45, 90)
        }  # fmt: skip
    assert at == {45: 0, 90: 1}  # unanswered: late only once its deadline has passed
