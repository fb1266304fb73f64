"""Assessments: the facts scorecards are computed from, as the record stood at any moment.

`as_of=T` ignores every event recorded after T (its `timestamp`, the audit journal's
`recorded_at`). The tables are built so that both "now" and "as of T" are one indexed
scan:

- `assessment_tickets`: a ticket's scorecard facts as versioned rows (SCD type 2):
  each event that changes a fact closes the current row (`valid_to` = its recorded
  time) and opens a new one (`valid_from` = the same). The row valid at T satisfies
  `valid_from <= T AND (valid_to IS NULL OR valid_to > T)`; the current row has
  `valid_to IS NULL` (partial indexes). Events of one command share a timestamp and
  fold into one row (keyed by ticket and `valid_from`), also when a page of the log
  ends among them, so the rows do not depend on how the log was paged.
  `handlers` holds the assignee and every actor who responded or resolved, so a
  worker's tickets are `handlers @> ARRAY[member_id]`.
- `assessment_pledges`: one row per pledge; a pledge's outcome (fulfilled, lapsed,
  withdrawn) is final, so its time (`outcome_at`) is all as-of needs.
- `assessment_sessions`: pledge sessions with their hours and `verified_at`.
- `assessment_attendance`: activity attendance: check-in time, when it was recorded,
  hours and when the check-out was recorded.
- `assessment_policies`: every version of every jurisdiction's assessment policy with
  the period it was in force.
- `assessment_paths`, `assessment_activities`: the tree (code -> path) and each
  activity's community, to place facts in subtrees (`path @> ARRAY[code]`).

Points issued, redeemed and deducted come from the points projection's postings.

The rows are written inside the database, straight from the events table over the
batch's position range (see assessments_sql): no event is decoded in Python, and a
batch costs about a dozen statements however many events it holds.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.utils import get_topic
from psycopg import sql
from psycopg.types.json import Jsonb

from domain.activity import Activity
from domain.assessment_policy import AssessmentPolicy
from domain.jurisdiction import Jurisdiction
from domain.pledge import Pledge
from projections.engine.batch import Batch, Projection, topics_of
from projections.store.events import EVENTS
from projections.views import assessments_sql as q
from projections.views.assessments_sql import FACT_EVENTS, PLEDGE_OUTCOMES
from projections.views.reading import Connection, Row, rows

TICKET_COLUMNS = (
    "ticket_id", "version", "valid_from", "valid_to", "grid_path", "reported_at",
    "respond_due_at", "status", "dispatched", "first_responded_at", "level", "esc_levels",
    "resolved_at", "ever_resolved", "late_resolutions", "reopen_count", "satisfaction",
    "handlers",
)  # fmt: skip

TABLES = {
    "assessment_tickets": (
        "CREATE TABLE IF NOT EXISTS {assessment_tickets} ("
        " ticket_id uuid NOT NULL, version int NOT NULL, valid_from timestamptz NOT NULL,"
        " valid_to timestamptz, grid_path text[] NOT NULL, reported_at timestamptz NOT NULL,"
        " respond_due_at timestamptz NOT NULL, status text NOT NULL,"
        " dispatched boolean NOT NULL, first_responded_at timestamptz, level text,"
        " esc_levels text[] NOT NULL, resolved_at timestamptz, ever_resolved boolean NOT NULL,"
        " late_resolutions int NOT NULL, reopen_count int NOT NULL, satisfaction text,"
        " handlers text[] NOT NULL, PRIMARY KEY (ticket_id, valid_from))"
    ),
    "assessment_pledges": (
        "CREATE TABLE IF NOT EXISTS {assessment_pledges} ("
        " pledge_id uuid PRIMARY KEY, member_id uuid NOT NULL, path text[] NOT NULL,"
        " made_at timestamptz NOT NULL, outcome text, outcome_at timestamptz)"
    ),
    "assessment_sessions": (
        "CREATE TABLE IF NOT EXISTS {assessment_sessions} ("
        " pledge_id uuid NOT NULL, session_no int NOT NULL, path text[] NOT NULL,"
        " hours numeric(10,2) NOT NULL, verified_at timestamptz,"
        " PRIMARY KEY (pledge_id, session_no))"
    ),
    "assessment_attendance": (
        "CREATE TABLE IF NOT EXISTS {assessment_attendance} ("
        " activity_id uuid NOT NULL, member_id uuid NOT NULL, path text[] NOT NULL,"
        " checked_in_at timestamptz NOT NULL, in_recorded_at timestamptz NOT NULL,"
        " hours numeric(10,2), out_recorded_at timestamptz,"
        " PRIMARY KEY (activity_id, member_id))"
    ),
    "assessment_policies": (
        "CREATE TABLE IF NOT EXISTS {assessment_policies} ("
        " jurisdiction text NOT NULL, version int NOT NULL,"
        " effective_from timestamptz NOT NULL, effective_until timestamptz,"
        " terms jsonb NOT NULL, PRIMARY KEY (jurisdiction, version))"
    ),
    "assessment_paths": (
        "CREATE TABLE IF NOT EXISTS {assessment_paths} ("
        " code text PRIMARY KEY, kind text NOT NULL, path text[] NOT NULL)"
    ),
    "assessment_activities": (
        "CREATE TABLE IF NOT EXISTS {assessment_activities} ("
        " activity_id uuid PRIMARY KEY, community text NOT NULL)"
    ),
}


class Assessments(Projection):
    name = "assessments"
    schema_version = 2  # 2: path indexes for subtree scorecards (as of a moment too)
    tables = TABLES
    indexes = [
        "CREATE INDEX IF NOT EXISTS assessment_tickets_g{g}_now ON {assessment_tickets}"
        " (reported_at) WHERE valid_to IS NULL",
        "CREATE INDEX IF NOT EXISTS assessment_tickets_g{g}_now_path ON {assessment_tickets}"
        " USING gin (grid_path) WHERE valid_to IS NULL",
        "CREATE INDEX IF NOT EXISTS assessment_tickets_g{g}_now_handlers"
        " ON {assessment_tickets} USING gin (handlers) WHERE valid_to IS NULL",
        "CREATE INDEX IF NOT EXISTS assessment_tickets_g{g}_asof ON {assessment_tickets}"
        " (reported_at, valid_from)",
        "CREATE INDEX IF NOT EXISTS assessment_tickets_g{g}_handlers ON {assessment_tickets}"
        " USING gin (handlers)",
        "CREATE INDEX IF NOT EXISTS assessment_tickets_g{g}_path ON {assessment_tickets}"
        " USING gin (grid_path)",
        "CREATE INDEX IF NOT EXISTS assessment_pledges_g{g}_made ON {assessment_pledges} (made_at)",
        "CREATE INDEX IF NOT EXISTS assessment_pledges_g{g}_path ON {assessment_pledges}"
        " USING gin (path)",
        "CREATE INDEX IF NOT EXISTS assessment_sessions_g{g}_path ON {assessment_sessions}"
        " USING gin (path)",
        "CREATE INDEX IF NOT EXISTS assessment_attendance_g{g}_path ON {assessment_attendance}"
        " USING gin (path)",
        "CREATE INDEX IF NOT EXISTS assessment_attendance_g{g}_member"
        " ON {assessment_attendance} (member_id, checked_in_at)",
        "CREATE INDEX IF NOT EXISTS assessment_sessions_g{g}_verified ON {assessment_sessions}"
        " (verified_at) WHERE verified_at IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS assessment_attendance_g{g}_in ON {assessment_attendance}"
        " (checked_in_at)",
    ]
    event_types = (
        *FACT_EVENTS,
        Jurisdiction.Defined,
        Pledge.Pledged,
        Pledge.SessionLogged,
        Pledge.SessionVerified,
        *PLEDGE_OUTCOMES,
        Activity.Scheduled,
        Activity.CheckedIn,
        Activity.CheckedOut,
        AssessmentPolicy.Published,
    )

    reads_events = False
    rebuild_weight = 1.05  # 42.5 µs an event (inside the database; load 3, when tickets
    # measured 58.2 for its 50.8)

    def apply(self, batch: Batch) -> None:
        cur = batch.cur
        cur.execute(q.CREATE_STAGE)
        params = {"after": batch.after, "last": batch.last, "topics": STAGED}
        cur.execute(batch.sql(q.STAGE_EVENTS, events=EVENTS), params)
        counts = dict(cur.execute(q.COUNT_STAGE).fetchall()) if cur.rowcount else {}
        params = {**params, "tickets": TICKET_TOPICS, "outcomes": OUTCOMES}
        for template, etypes in (
            (q.DEFINE_PATHS, ["Jurisdiction.Defined"]),
            (q.SCHEDULE_ACTIVITIES, ["Activity.Scheduled"]),
            (q.FOLD_TICKETS, None),  # reads the events table itself
            (q.MAKE_PLEDGES, ["Pledge.Pledged"]),
            (q.END_PLEDGES, OUTCOMES),
            (q.LOG_SESSIONS, ["Pledge.SessionLogged"]),
            (q.VERIFY_SESSIONS, ["Pledge.SessionVerified"]),
            (q.CHECK_IN, ["Activity.CheckedIn"]),
            (q.CHECK_OUT, ["Activity.CheckedOut"]),
        ):
            if etypes is None or any(counts.get(etype) for etype in etypes):
                statement = batch.sql(
                    template, events=EVENTS, columns=COLUMNS, columns_c=COLUMNS_C, **q.FRAGMENTS
                )
                cur.execute(statement, params)
        if counts.get("AssessmentPolicy.Published"):
            _policies(batch, cur.execute(q.PUBLISHED_POLICIES).fetchall())
        if counts:
            cur.execute(q.CLEAR_STAGE)


TICKET_TOPICS = sorted(topics_of(FACT_EVENTS))
STAGED = sorted(topics_of(Assessments.event_types) - set(TICKET_TOPICS))
"""The topics staged for the statements after the ticket fold."""
OUTCOMES = [get_topic(cls).split(":", 1)[1] for cls in PLEDGE_OUTCOMES]
"""The outcomes' staged `etype`s (`Pledge.Fulfilled`, ...)."""
COLUMNS = sql.SQL(", ").join(map(sql.Identifier, TICKET_COLUMNS))
COLUMNS_C = sql.SQL(", ").join(sql.SQL("c.{}").format(sql.Identifier(c)) for c in TICKET_COLUMNS)


def _policies(batch: Batch, published: list[tuple[Any, ...]]) -> None:
    """Each version; the version it follows now ends where it begins."""
    for jurisdiction, version, effective_from, terms in published:
        batch.cur.execute(
            batch.sql(
                "UPDATE {assessment_policies} SET effective_until = %s"
                " WHERE jurisdiction = %s AND effective_until IS NULL"
            ),
            (effective_from, jurisdiction),
        )
        batch.cur.execute(
            batch.sql(
                "INSERT INTO {assessment_policies}"
                " (jurisdiction, version, effective_from, effective_until, terms)"
                " VALUES (%s, %s, %s, NULL, %s)"
            ),
            (jurisdiction, version, effective_from, Jsonb(terms)),
        )


# --- reads: the queries of the HTTP API ---


def policy_versions(conn: Connection, jurisdiction: str) -> list[Row]:
    """Every version of the jurisdiction's own assessment policy, in order."""
    return rows(
        conn,
        "SELECT version, effective_from, effective_until, terms FROM assessment_policies"
        " WHERE jurisdiction = %s ORDER BY version",
        jurisdiction,
    )
