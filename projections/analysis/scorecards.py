"""Scorecards: the assessment figures of a subtree or a worker for a period, as of a moment.

Every figure is one SQL aggregation over the `assessments` projection's tables (and the
points postings); Python only divides and applies the policy. The aggregations are
never prepared (`prepare=False`): after a few executions a prepared statement may switch
to a generic plan, and a plan that does not know the subtree and the period scans far
more than one that does (a grid's scorecard went from 3 ms to 80 ms). The definitions are the
README's "Evaluating" section. Cohort of ticket figures: tickets reported in
[`start`, `end`); `as_of` (None: now) ignores every event recorded after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from domain.assessment_policy import DEFAULT_TERMS, STAR_COUNT
from projections.store.snapshot import one_snapshot

Connection = psycopg.Connection[Any]
Row = dict[str, Any]
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)
"""`as_of` of a scorecard of now, where a query compares recorded times with it."""

TICKET_FIGURES: LiteralString = """
SELECT count(*) AS received,
 count(*) FILTER (WHERE status NOT IN ('reported', 'rejected')) AS accepted,
 count(*) FILTER (WHERE status = 'rejected') AS rejected,
 count(*) FILTER (WHERE dispatched) AS dispatched,
 count(*) FILTER (WHERE dispatched AND first_responded_at <= respond_due_at) AS in_time,
 count(*) FILTER (WHERE status IN ('resolved', 'closed') AND late_resolutions = 0) AS on_time,
 count(*) FILTER (WHERE status IN ('resolved', 'closed') OR late_resolutions > 0) AS due_decided,
 count(*) FILTER (WHERE status = 'closed') AS closed,
 count(*) FILTER (WHERE status = 'closed' AND level = 'grid') AS closed_in_grid,
 count(*) FILTER (WHERE 'community' = ANY(esc_levels)) AS escalated_community,
 count(*) FILTER (WHERE 'street' = ANY(esc_levels)) AS escalated_street,
 count(*) FILTER (WHERE 'department' = ANY(esc_levels)) AS escalated_department,
 count(*) FILTER (WHERE satisfaction = 'satisfied') AS satisfied,
 count(*) FILTER (WHERE satisfaction = 'basically_satisfied') AS basically_satisfied,
 count(*) FILTER (WHERE satisfaction IS NOT NULL) AS rated,
 count(*) FILTER (WHERE ever_resolved) AS ever_resolved,
 count(*) FILTER (WHERE ever_resolved AND reopen_count > 0) AS reopened,
 count(*) FILTER (WHERE status NOT IN ('rejected', 'resolved', 'closed')
   AND (late_resolutions > 0 OR first_responded_at IS NULL AND respond_due_at < %(now)s))
   AS overdue_open,
 count(*) FILTER (WHERE dispatched AND (first_responded_at > respond_due_at
   OR first_responded_at IS NULL AND respond_due_at < %(now)s)) AS response_late,
 count(*) FILTER (WHERE late_resolutions > 0) AS resolution_late,
 avg(date_part('epoch', first_responded_at - reported_at)) AS avg_response_s,
 percentile_cont(0.9) WITHIN GROUP (ORDER BY date_part('epoch', first_responded_at - reported_at))
   AS p90_response_s,
 avg(date_part('epoch', resolved_at - reported_at))
   FILTER (WHERE status IN ('resolved', 'closed')) AS avg_resolution_s,
 percentile_cont(0.9) WITHIN GROUP (ORDER BY date_part('epoch', resolved_at - reported_at))
   FILTER (WHERE status IN ('resolved', 'closed')) AS p90_resolution_s
FROM assessment_tickets
"""

NOW_ROWS: LiteralString = " WHERE valid_to IS NULL"
AS_OF_ROWS: LiteralString = (
    " WHERE valid_from <= %(as_of)s AND (valid_to IS NULL OR valid_to > %(as_of)s)"
)
COHORT: LiteralString = " AND reported_at >= %(start)s AND reported_at < %(end)s"
IN_SUBTREE: LiteralString = " AND grid_path @> ARRAY[%(code)s]::text[]"
OF_WORKER: LiteralString = " AND handlers @> ARRAY[%(worker)s]::text[]"

COMMUNITY_FIGURES: LiteralString = """
SELECT pl.*, se.*, at.* FROM
 (SELECT count(*) FILTER (WHERE made_at <= %(as_of)s) AS pledges_made,
   count(*) FILTER (WHERE outcome = 'fulfilled' AND outcome_at <= %(as_of)s)
   AS pledges_fulfilled,
   count(*) FILTER (WHERE outcome IN ('fulfilled', 'lapsed') AND outcome_at <= %(as_of)s)
   AS pledges_decided
  FROM assessment_pledges WHERE path @> ARRAY[%(code)s]::text[]
  AND made_at >= %(start)s AND made_at < %(end)s) AS pl,
 (SELECT coalesce(sum(hours), 0) AS pledge_hours FROM assessment_sessions
  WHERE path @> ARRAY[%(code)s]::text[] AND verified_at >= %(start)s
  AND verified_at < %(end)s AND verified_at <= %(as_of)s) AS se,
 (SELECT coalesce(sum(hours) FILTER (WHERE out_recorded_at <= %(as_of)s), 0)
   AS activity_hours,
   count(*) AS participations, count(DISTINCT member_id) AS participants
  FROM assessment_attendance WHERE path @> ARRAY[%(code)s]::text[]
  AND checked_in_at >= %(start)s AND checked_in_at < %(end)s
  AND in_recorded_at <= %(as_of)s) AS at
"""

POINTS_OF_DISTRICT: LiteralString = """
SELECT coalesce(-sum(amount) FILTER (WHERE account_type = 'issuance'), 0) AS points_issued,
 coalesce(sum(amount) FILTER (WHERE account_type = 'redeemed'), 0) AS points_redeemed,
 coalesce(sum(amount) FILTER (WHERE account_type = 'deducted'), 0) AS points_deducted
FROM points_postings
WHERE community IN (SELECT code FROM assessment_paths
   WHERE kind = 'community' AND path @> ARRAY[%(code)s]::text[])
 AND recorded_at >= %(start)s AND recorded_at < %(end)s AND recorded_at <= %(as_of)s
 AND account_type IN ('issuance', 'redeemed', 'deducted')
"""
"""A district's points figures: one scan of the period's postings (most of them are its)."""

# Below a district: per community of the subtree (an index range scan each), then summed
# (the planner, left to itself, scans every posting of the period for a street too).
POINTS_FIGURES: LiteralString = """
SELECT coalesce(sum(f.issued), 0) AS points_issued,
 coalesce(sum(f.redeemed), 0) AS points_redeemed,
 coalesce(sum(f.deducted), 0) AS points_deducted
FROM (SELECT code FROM assessment_paths
   WHERE kind = 'community' AND path @> ARRAY[%(code)s]::text[]) AS c
CROSS JOIN LATERAL (
 SELECT -sum(amount) FILTER (WHERE account_type = 'issuance') AS issued,
  sum(amount) FILTER (WHERE account_type = 'redeemed') AS redeemed,
  sum(amount) FILTER (WHERE account_type = 'deducted') AS deducted
 FROM points_postings WHERE community = c.code
  AND recorded_at >= %(start)s AND recorded_at < %(end)s AND recorded_at <= %(as_of)s
  AND account_type IN ('issuance', 'redeemed', 'deducted')) AS f
"""

WORKER_VOLUNTEERING: LiteralString = """
SELECT se.*, at.* FROM
 (SELECT coalesce(sum(s.hours), 0) AS pledge_hours FROM assessment_pledges p
   JOIN assessment_sessions s ON s.pledge_id = p.pledge_id
   WHERE p.member_id = %(member)s AND s.verified_at >= %(start)s AND s.verified_at < %(end)s
   AND s.verified_at <= %(as_of)s) AS se,
 (SELECT coalesce(sum(hours) FILTER (WHERE out_recorded_at <= %(as_of)s), 0)
   AS activity_hours, count(*) AS participations
   FROM assessment_attendance WHERE member_id = %(member)s
   AND checked_in_at >= %(start)s AND checked_in_at < %(end)s
   AND in_recorded_at <= %(as_of)s) AS at
"""

# The member's own accounts' legs (found through its ledger rows, by their positions:
# posting_id = position * 10 + leg), by the account on the other side.
WORKER_POINTS: LiteralString = """
SELECT coalesce(sum(p.amount) FILTER (WHERE p.counter_account LIKE '%%:issuance'), 0)
   AS points_issued,
 coalesce(-sum(p.amount) FILTER (WHERE p.counter_account LIKE '%%:redeemed'), 0)
   AS points_redeemed,
 coalesce(-sum(p.amount) FILTER (WHERE p.counter_account LIKE '%%:deducted'), 0)
   AS points_deducted
FROM (SELECT DISTINCT position FROM points_ledger WHERE member_id = %(member)s) l
JOIN points_postings p ON p.posting_id IN (l.position * 10 + 1, l.position * 10 + 2)
WHERE p.account_type = 'member' AND p.member_id = %(member)s
 AND p.recorded_at >= %(start)s AND p.recorded_at < %(end)s AND p.recorded_at <= %(as_of)s
"""

POLICY: LiteralString = """
SELECT p.jurisdiction, p.version, p.effective_from, p.terms FROM assessment_policies p
WHERE p.jurisdiction = ANY(%(path)s) AND p.effective_from <= %(as_of)s
ORDER BY array_position(%(path)s, p.jurisdiction) DESC, p.version DESC LIMIT 1
"""


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    as_of: datetime | None

    def params(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "as_of": FAR_FUTURE if self.as_of is None else self.as_of,
        }


def joined(*parts: LiteralString) -> sql.Composed:
    """The statement made of `parts`, in order."""
    return sql.Composed([sql.SQL(part) for part in parts])


def _one(conn: Connection, query: LiteralString | sql.Composed, params: dict[str, Any]) -> Row:
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(query, params, prepare=False).fetchone()
    assert found is not None
    return found


def path_of(conn: Connection, code: str) -> tuple[str, list[str]] | None:
    """(kind, path) of the jurisdiction `code` in the assessments tables, if defined."""
    query = "SELECT kind, path FROM assessment_paths WHERE code = %s"
    row = conn.execute(query, (code,)).fetchone()
    return None if row is None else (row[0], list(row[1]))


def policy_for(conn: Connection, path: list[str], as_of: datetime | None) -> Row:
    """The policy of the nearest ancestor-or-self of `path` that had one at `as_of`, or
    the built-in default (version 0)."""
    params = {"path": path, "as_of": FAR_FUTURE if as_of is None else as_of}
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(POLICY, params).fetchone()
    if found is None:
        return {"jurisdiction": None, "version": 0, "effective_from": None, "terms": DEFAULT_TERMS}
    return found


def ticket_figures(
    conn: Connection,
    period: Period,
    *,
    code: str | None = None,
    worker: str | None = None,
    now: datetime,
) -> Row:
    """The raw ticket counts and times of the cohort in a subtree (`code`) or of a worker."""
    query = joined(
        TICKET_FIGURES,
        NOW_ROWS if period.as_of is None else AS_OF_ROWS,
        COHORT,
        IN_SUBTREE if code is not None else OF_WORKER,
    )
    params = {**period.params(), "code": code, "worker": worker, "now": period.as_of or now}
    return _one(conn, query, params)


def rate(numerator: int, denominator: int, minimum: int) -> Row:
    """A rate with its numerator and denominator; null with a reason below `minimum`."""
    figure: Row = {"value": None, "numerator": numerator, "denominator": denominator}
    if denominator == 0:
        figure["reason"] = "no cases"
    elif denominator < minimum:
        figure["reason"] = f"fewer than {minimum} cases (the policy's minimum)"
    else:
        figure["value"] = round(numerator / denominator, 4)
        figure["reason"] = None
    return figure


def ticket_rates(raw: Row, terms: dict[str, Any]) -> dict[str, Any]:
    """Every ticket rate and time of a scorecard, from `ticket_figures`."""
    minimum = terms["min_cases"]
    k = terms["basically_satisfied_weight"]
    rated = raw["rated"]
    satisfied_points = raw["satisfied"] + k * raw["basically_satisfied"]
    satisfaction = rate(0, rated, minimum)
    if satisfaction["reason"] is None:
        satisfaction["value"] = round(satisfied_points / rated, 4)
    satisfaction["numerator"] = round(satisfied_points, 4)
    figures = {
        "response_in_time_rate": rate(raw["in_time"], raw["dispatched"], minimum),
        "on_time_resolution_rate": rate(raw["on_time"], raw["due_decided"], minimum),
        "handling_rate": rate(raw["closed"], raw["received"], minimum),
        "grid_handling_rate": rate(raw["closed_in_grid"], raw["received"], minimum),
        "escalation_rate": {
            level: rate(raw[f"escalated_{level}"], raw["accepted"], minimum)
            for level in ("community", "street", "department")
        },
        "satisfaction_rate": satisfaction,
        "reopen_rate": rate(raw["reopened"], raw["ever_resolved"], minimum),
    }
    figures["three_rates_score"] = three_rates(figures, terms["weights"])
    return figures


def three_rates(figures: dict[str, Any], weights: dict[str, float]) -> Row:
    """weights . (response-in-time, handling, satisfaction); null if any of them is."""
    parts = {
        "response": figures["response_in_time_rate"]["value"],
        "handling": figures["handling_rate"]["value"],
        "satisfaction": figures["satisfaction_rate"]["value"],
    }
    missing = [name for name, value in parts.items() if value is None]
    if missing:
        return {"value": None, "weights": weights, "reason": f"no {', '.join(missing)} rate"}
    score = sum(weights[name] * value for name, value in parts.items())
    return {"value": round(score, 4), "weights": weights, "reason": None}


def times(raw: Row) -> Row:
    def hours(seconds: float | None) -> float | None:
        return None if seconds is None else round(float(seconds) / 3600, 2)

    return {
        "avg_response_hours": hours(raw["avg_response_s"]),
        "p90_response_hours": hours(raw["p90_response_s"]),
        "avg_resolution_hours": hours(raw["avg_resolution_s"]),
        "p90_resolution_hours": hours(raw["p90_resolution_s"]),
    }


def counts(raw: Row) -> Row:
    keys = ("received", "accepted", "rejected", "dispatched", "closed", "rated", "overdue_open")
    return {key: raw[key] for key in keys}


def jurisdiction_scorecard(
    conn: Connection,
    code: str,
    kind: str,
    path: list[str],
    period: Period,
    now: datetime,
    spares: Sequence[Connection] = (),
) -> Row:
    """The scorecard of the subtree of `code` (a jurisdiction of `kind` at `path`).

    On an autocommit `conn`, in one snapshot; given two `spares` (idle autocommit
    connections), the community and points figures are computed on them while `conn`
    computes the ticket figures, in the same snapshot: the answer is the same, sooner."""
    params = {**period.params(), "code": code}
    points_query = POINTS_OF_DISTRICT if kind == "district" else POINTS_FIGURES
    in_callers = not conn.autocommit or conn.info.transaction_status != TransactionStatus.IDLE
    two = spares[:2] if len(spares) >= 2 else ()
    snapshot: AbstractContextManager[list[psycopg.Connection[Any]]]
    snapshot = nullcontext([]) if in_callers else one_snapshot(conn, two)
    with snapshot as joined:
        policy = policy_for(conn, path, period.as_of)
        if len(joined) == 2:  # the other figures on the spares, beside the ticket figures
            with ThreadPoolExecutor(max_workers=2) as pool:
                community_at = pool.submit(_one, joined[0], COMMUNITY_FIGURES, params)
                points_at = pool.submit(_one, joined[1], points_query, params)
                raw = ticket_figures(conn, period, code=code, now=now)
                community, points = community_at.result(), points_at.result()
        else:
            raw = ticket_figures(conn, period, code=code, now=now)
            community = _one(conn, COMMUNITY_FIGURES, params)
            points = _one(conn, points_query, params)
    terms = policy["terms"]
    return {
        "jurisdiction": code,
        "kind": kind,
        "period": {"from": period.start, "to": period.end},
        "as_of": period.as_of,
        "policy": policy,
        "tickets": counts(raw),
        "rates": ticket_rates(raw, terms),
        "times": times(raw),
        "pledges": {
            "made": community["pledges_made"],
            "fulfilment_rate": rate(
                community["pledges_fulfilled"], community["pledges_decided"], terms["min_cases"]
            ),
        },
        "volunteering": volunteering(community, community["participants"]),
        "points": points_answer(points),
    }


def volunteering(figures: Row, participants: int) -> Row:
    return {
        "verified_hours": float(figures["pledge_hours"] + figures["activity_hours"]),
        "pledge_hours": float(figures["pledge_hours"]),
        "activity_hours": float(figures["activity_hours"]),
        "participations": figures["participations"],
        "participants": participants,
    }


def points_answer(points: Row) -> Row:
    return {
        "issued": int(points["points_issued"]),
        "redeemed": int(points["points_redeemed"]),
        "deducted": int(points["points_deducted"]),
    }


def worker_scorecard(
    conn: Connection, member_id: str, home_path: list[str] | None, period: Period, now: datetime
) -> Row:
    """The scorecard of a worker (the tickets they were assigned, responded to or
    resolved), with their stars under the policy of their home grid."""
    policy = policy_for(conn, home_path or [], period.as_of)
    terms = policy["terms"]
    raw = ticket_figures(conn, period, worker=member_id, now=now)
    rates = ticket_rates(raw, terms)
    params = {**period.params(), "member": member_id}
    own = _one(conn, WORKER_VOLUNTEERING, params)
    points = _one(conn, WORKER_POINTS, params)
    return {
        "member_id": member_id,
        "period": {"from": period.start, "to": period.end},
        "as_of": period.as_of,
        "policy": policy,
        "tickets": counts(raw),
        "rates": rates,
        "times": times(raw),
        "stars": stars(raw, rates, terms),
        "volunteering": volunteering(own, 1 if own["participations"] else 0),
        "points": points_answer(points),
    }


def stars(raw: Row, rates: dict[str, Any], terms: dict[str, Any]) -> Row:
    """Star n is earned when the rules of stars 1..n are all met (星级滚动考核); each rule
    answers its figure, threshold and whether it is met (a null rate is not met)."""
    rules = []
    earned = 0
    for n, rule in enumerate(terms["stars"], start=1):
        figure = rule["figure"]
        if figure == "tickets_handled":
            value: float | None = raw["received"]
            reason = None
        else:
            value = rates[figure]["value"]
            reason = rates[figure]["reason"]
        met = value is not None and value >= rule["threshold"]
        if met and earned == n - 1:
            earned = n
        rules.append(
            {
                "star": n,
                "rule": f"{figure} >= {rule['threshold']}",
                "figure": figure,
                "value": value,
                "threshold": rule["threshold"],
                "met": met,
                "reason": reason,
            }
        )
    return {"earned": earned, "of": STAR_COUNT, "rules": rules}
