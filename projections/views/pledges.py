"""Pledges (承诺/践诺) and their service sessions, for `GET /v1/pledges/{id}` and lists.

`pledges` has one current row per pledge: its status, `target_hours`,
`verified_hours` (the sum of verified sessions' hours), `logged_hours` and
`session_count` (every session logged), the time of each transition (`lapsed_at` is
when the deadline watcher recorded the lapse) and `review` (`{rating, comment,
reviewed_by, reviewed_at}` or null). `pledge_sessions` has one row per session.
Lists by member, by community and status, and by status and due date are indexed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import sql

from domain.pledge import Pledge
from projections.engine.batch import Batch, Projection
from projections.views.common import to_json
from projections.views.jurisdictions import in_community_of
from projections.views.reading import (
    Connection,
    Filter,
    Found,
    Page,
    Reach,
    Row,
    conditions,
    first,
    rows,
)

PLEDGED = Pledge.Pledged
ACCEPTED = Pledge.Accepted
LOGGED = Pledge.SessionLogged
VERIFIED = Pledge.SessionVerified
FULFILLED = Pledge.Fulfilled
LAPSED = Pledge.Lapsed
WITHDRAWN = Pledge.Withdrawn
REVIEWED = Pledge.Reviewed
ZERO = Decimal("0.00")

SESSION_COLUMNS = [
    "pledge_id",
    "session_no",
    "hours",
    "on",
    "note",
    "logged_at",
    "verified",
    "verified_by",
    "verified_at",
]


class Pledges(Projection):
    name = "pledges"
    tables = {
        "pledges": (
            "CREATE TABLE IF NOT EXISTS {pledges} ("
            " id uuid PRIMARY KEY, member_id uuid NOT NULL, community text NOT NULL,"
            " kind text NOT NULL, title text NOT NULL, status text NOT NULL,"
            " target_hours numeric(10,2) NOT NULL, verified_hours numeric(10,2) NOT NULL,"
            " logged_hours numeric(10,2) NOT NULL, session_count int NOT NULL,"
            " due_on date NOT NULL, pledged_at timestamptz NOT NULL,"
            " accepted_at timestamptz, fulfilled_at timestamptz, lapsed_at timestamptz,"
            " withdrawn_at timestamptz, withdrawal_reason text, review jsonb,"
            " version int NOT NULL, last_position bigint NOT NULL)"
        ),
        "pledge_sessions": (
            "CREATE TABLE IF NOT EXISTS {pledge_sessions} ("
            " pledge_id uuid NOT NULL, session_no int NOT NULL, hours numeric(10,2) NOT NULL,"
            ' "on" date NOT NULL, note text, logged_at timestamptz NOT NULL,'
            " verified boolean NOT NULL, verified_by text, verified_at timestamptz,"
            " PRIMARY KEY (pledge_id, session_no))"
        ),
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS pledges_g{g}_member ON {pledges} (member_id, pledged_at)",
        "CREATE INDEX IF NOT EXISTS pledges_g{g}_community ON {pledges} (community, status)",
        "CREATE INDEX IF NOT EXISTS pledges_g{g}_status ON {pledges} (status, due_on)",
    ]
    event_types = (Pledge.Event,)
    rebuild_weight = 1.7  # 69.2 µs an event

    def apply(self, batch: Batch) -> None:
        rows = batch.fetch(
            "pledges",
            "id",
            (r.event.originator_id for r in batch.events if type(r.event) is not PLEDGED),
        )
        earlier = _earlier_hours(batch)
        touched: dict[Any, dict[str, Any]] = {}
        logged: dict[tuple[Any, int], list[Any]] = {}
        verified: list[dict[str, Any]] = []
        for r in batch.events:
            e = r.event
            kind = type(e)
            if kind is PLEDGED:
                row = rows[e.originator_id] = _pledged(e)
            else:
                row = rows[e.originator_id]
            if kind is LOGGED:
                row["logged_hours"] += e.hours
                row["session_count"] = max(row["session_count"], e.session_no)
                logged[(e.originator_id, e.session_no)] = [
                    e.originator_id, e.session_no, e.hours, e.on, e.note, e.timestamp,
                    False, None, None,
                ]  # fmt: skip
            elif kind is VERIFIED:
                _verify(row, e, logged, verified, earlier)
            elif kind is ACCEPTED:
                row["status"] = "accepted"
                row["accepted_at"] = e.timestamp
            elif kind is FULFILLED:
                row["status"] = "fulfilled"
                row["fulfilled_at"] = e.timestamp
            elif kind is LAPSED:
                row["status"] = "lapsed"
                row["lapsed_at"] = e.timestamp
            elif kind is WITHDRAWN:
                row["status"] = "withdrawn"
                row["withdrawn_at"] = e.timestamp
                row["withdrawal_reason"] = e.reason
            elif kind is REVIEWED:
                row["review"] = {
                    "rating": e.rating,
                    "comment": e.comment,
                    "reviewed_by": e.actor_id,
                    "reviewed_at": e.timestamp,
                }
            row["version"] = e.originator_version
            row["last_position"] = r.position
            touched[e.originator_id] = row
        if logged:
            batch.copy("pledge_sessions", SESSION_COLUMNS, logged.values())
        batch.update("pledge_sessions", ["pledge_id", "session_no"], verified)
        batch.upsert("pledges", ["id"], [_finish(row) for row in touched.values()])


def _verify(
    row: dict[str, Any],
    e: Any,
    logged: dict[tuple[Any, int], list[Any]],
    verified: list[dict[str, Any]],
    earlier: dict[tuple[Any, int], Decimal],
) -> None:
    """Count a verified session's hours in the pledge's `row`, and mark the session: the
    one the batch adds (`logged`), else the stored one (`verified`: updated after)."""
    key = (e.originator_id, e.session_no)
    if key in logged:
        logged[key][6:9] = [True, e.actor_id, e.timestamp]
        row["verified_hours"] += logged[key][2]
    else:
        verified.append(
            {
                "verified": True,
                "verified_by": e.actor_id,
                "verified_at": e.timestamp,
                "pledge_id": key[0],
                "session_no": key[1],
            }
        )
        row["verified_hours"] += earlier[key]


def _earlier_hours(batch: Batch) -> dict[tuple[Any, int], Decimal]:
    """The hours of the sessions the batch verifies, as recorded before it."""
    keys = sorted(
        {(r.event.originator_id, r.event.session_no) for r in batch.events
         if type(r.event) is VERIFIED}
    )  # fmt: skip
    if not keys:
        return {}
    batch.cur.execute(
        batch.sql(
            "SELECT s.pledge_id, s.session_no, s.hours FROM {pledge_sessions} AS s"
            " JOIN unnest(%s::uuid[], %s::int[]) AS k (pledge_id, session_no)"
            " USING (pledge_id, session_no)"
        ),
        ([k[0] for k in keys], [k[1] for k in keys]),
    )
    return {(pledge_id, no): hours for pledge_id, no, hours in batch.cur.fetchall()}


def _pledged(e: Any) -> dict[str, Any]:
    return {
        "id": e.originator_id,
        "member_id": e.member_id,
        "community": e.community,
        "kind": e.kind,
        "title": e.title,
        "status": "pledged",
        "target_hours": e.target_hours,
        "verified_hours": ZERO,
        "logged_hours": ZERO,
        "session_count": 0,
        "due_on": e.due_on,
        "pledged_at": e.timestamp,
        "accepted_at": None,
        "fulfilled_at": None,
        "lapsed_at": None,
        "withdrawn_at": None,
        "withdrawal_reason": None,
        "review": None,
    }


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    review = row["review"]
    return {**row, "review": None if review is None else to_json(review)}


# --- reads: the queries of the HTTP API ---

PLEDGES = sql.SQL("SELECT * FROM pledges")


def visible(reach: Reach) -> Filter:
    """The pledges `reach` sees: of the communities of its scope; a member's own."""
    return in_community_of(reach, sql.Identifier("community"), sql.Identifier("member_id"))


def pledge(conn: Connection, pledge_id: UUID, reach: Reach) -> Row | None:
    """The pledge, if `reach` sees it."""
    return first(conn, "SELECT * FROM pledges", ("id = %s", pledge_id), visible(reach))


def sessions(conn: Connection, pledge_id: UUID) -> list[Row]:
    """The pledge's sessions, in order."""
    return rows(
        conn, "SELECT * FROM pledge_sessions WHERE pledge_id = %s ORDER BY session_no", pledge_id
    )


def pledges(
    conn: Connection,
    reach: Reach,
    *,
    member_id: UUID | None,
    community: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Found:
    """The pledges `reach` sees, by when they were made: of `member_id`, in `community`,
    in `status`."""
    clauses, params = conditions(
        visible(reach),
        ("member_id = %s", member_id),
        ("community = %s", community),
        ("status = %s", status),
    )
    return Page(["pledged_at", "id"]).fetch(conn, PLEDGES, clauses, params, limit, cursor)
