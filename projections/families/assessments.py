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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from domain.activity import Activity
from domain.assessment_policy import AssessmentPolicy
from domain.jurisdiction import Jurisdiction
from domain.pledge import Pledge
from domain.ticket import Ticket
from projections.engine import Batch, Projection

Row = dict[str, Any]

TICKET_COLUMNS = (
    "ticket_id", "version", "valid_from", "valid_to", "grid_path", "reported_at",
    "respond_due_at", "status", "dispatched", "first_responded_at", "level", "esc_levels",
    "resolved_at", "ever_resolved", "late_resolutions", "reopen_count", "satisfaction",
    "handlers",
)  # fmt: skip

FACT_EVENTS = (
    Ticket.Reported, Ticket.Accepted, Ticket.Rejected, Ticket.Dispatched, Ticket.Responded,
    Ticket.Escalated, Ticket.Resolved, Ticket.Rated, Ticket.Closed, Ticket.Reopened,
    Ticket.ResolutionOverdue,
)  # fmt: skip
"""The ticket events that change a scorecard fact (supervision, visits and a missed
response, which `first_responded_at > respond_due_at` already tells, change none)."""


def _handler(row: Row, who: str | None) -> None:
    if who and who not in row["handlers"]:
        row["handlers"] = [*row["handlers"], who]


def _dispatched(row: Row, e: Any) -> None:
    row.update(status="dispatched", dispatched=True, level=e.level)
    _handler(row, e.assignee)


def _responded(row: Row, e: Any) -> None:
    row["status"] = "responded"
    if row["first_responded_at"] is None:
        row["first_responded_at"] = e.at
    _handler(row, e.actor_id)


def _escalated(row: Row, e: Any) -> None:
    row.update(status="accepted", level=e.to_level)
    if e.to_level not in row["esc_levels"]:
        row["esc_levels"] = [*row["esc_levels"], e.to_level]


def _resolved(row: Row, e: Any) -> None:
    row.update(status="resolved", resolved_at=e.at, ever_resolved=True)
    _handler(row, e.actor_id)


def _reopened(row: Row, e: Any) -> None:
    row.update(status="dispatched", resolved_at=None, satisfaction=None)
    row["reopen_count"] += 1


def _late(row: Row, e: Any) -> None:
    row["late_resolutions"] += 1


TICKET_HANDLERS: dict[type, Callable[[Row, Any], None]] = {
    Ticket.Accepted: lambda row, e: row.update(status="accepted"),
    Ticket.Rejected: lambda row, e: row.update(status="rejected"),
    Ticket.Dispatched: _dispatched,
    Ticket.Responded: _responded,
    Ticket.Escalated: _escalated,
    Ticket.Resolved: _resolved,
    Ticket.Rated: lambda row, e: row.update(satisfaction=e.satisfaction),
    Ticket.Closed: lambda row, e: row.update(status="closed"),
    Ticket.Reopened: _reopened,
    Ticket.ResolutionOverdue: _late,
}

PLEDGE_OUTCOMES = {
    Pledge.Fulfilled: "fulfilled",
    Pledge.Lapsed: "lapsed",
    Pledge.Withdrawn: "withdrawn",
}

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
    schema_version = 1
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
        "CREATE INDEX IF NOT EXISTS assessment_pledges_g{g}_made ON {assessment_pledges} (made_at)",
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

    def __init__(self) -> None:
        self._paths: dict[str, list[str]] = {}
        """Jurisdiction paths seen (a node never moves); misses read `assessment_paths`."""

    def apply(self, batch: Batch) -> None:
        by_kind: dict[str, list[Any]] = {
            "path": [],
            "ticket": [],
            "pledge": [],
            "activity": [],
            "policy": [],
        }
        for recorded in batch.events:
            event = recorded.event
            kind = _KINDS.get(type(event))
            if kind is None:
                kind = "ticket" if isinstance(event, Ticket.Event) else "activity"
            by_kind[kind].append(event)
        self._jurisdictions(batch, by_kind["path"])
        if by_kind["ticket"]:
            self._tickets(batch, by_kind["ticket"])
        if by_kind["pledge"]:
            self._pledges(batch, by_kind["pledge"])
        if by_kind["activity"]:
            self._activities(batch, by_kind["activity"])
        if by_kind["policy"]:
            _policies(batch, by_kind["policy"])

    # --- the tree ---

    def _jurisdictions(self, batch: Batch, events: list[Any]) -> None:
        rows = []
        for event in events:
            self._paths[event.code] = list(event.path)
            rows.append((event.code, event.kind, list(event.path)))
        if rows:
            batch.copy("assessment_paths", ("code", "kind", "path"), rows)

    def _path(self, batch: Batch, codes: set[str]) -> None:
        wanted = codes - self._paths.keys()
        found = batch.fetch("assessment_paths", "code", wanted)
        for code in wanted:
            if code not in found:
                raise LookupError(f"{code!r} has no Jurisdiction.Defined before its facts")
            self._paths[code] = list(found[code]["path"])

    # --- tickets ---

    def _tickets(self, batch: Batch, events: list[Any]) -> None:
        reported = {e.originator_id for e in events if type(e) is Ticket.Reported}
        current = _current_tickets(batch, {e.originator_id for e in events} - reported)
        self._path(batch, {e.grid for e in events if type(e) is Ticket.Reported})
        latest: dict[UUID, Row] = dict(current)
        new_rows: list[Row] = []
        closed: dict[UUID, Row] = {}
        replaced: list[Row] = []
        for event in events:
            ticket_id, at = event.originator_id, event.timestamp
            if type(event) is Ticket.Reported:
                row = _reported(event, self._paths[event.grid])
                new_rows.append(row)
                latest[ticket_id] = row
                continue
            row = latest[ticket_id]
            stored = row is current.get(ticket_id)
            if row["valid_from"] != at:
                row["valid_to"] = at
                if stored and not any(r is row for r in replaced):
                    closed[ticket_id] = {"ticket_id": ticket_id, "valid_from": row["valid_from"]}
                    closed[ticket_id]["valid_to"] = at
                row = {**row, "valid_from": at, "valid_to": None}
                new_rows.append(row)
                latest[ticket_id] = row
            elif stored and not any(r is row for r in replaced):
                # the command's events continue the stored row (a page ended among them)
                replaced.append(row)
                new_rows.append(row)
            TICKET_HANDLERS[type(event)](row, event)
            row["version"] = event.originator_version
        if replaced:
            batch.executemany(
                "DELETE FROM {assessment_tickets} WHERE ticket_id = %s AND valid_from = %s",
                [(r["ticket_id"], r["valid_from"]) for r in replaced],
            )
        batch.update("assessment_tickets", ["ticket_id", "valid_from"], list(closed.values()))
        batch.copy(
            "assessment_tickets", TICKET_COLUMNS, ([r[c] for c in TICKET_COLUMNS] for r in new_rows)
        )

    # --- pledges and sessions ---

    def _pledges(self, batch: Batch, events: list[Any]) -> None:
        made = {e.originator_id: e for e in events if type(e) is Pledge.Pledged}
        self._path(batch, {e.community for e in made.values()})
        known = batch.fetch(
            "assessment_pledges", "pledge_id", {e.originator_id for e in events} - made.keys()
        )
        paths = {k: r["path"] for k, r in known.items()}
        new: dict[UUID, Row] = {}
        outcomes: list[Row] = []
        logged: dict[tuple[UUID, int], Row] = {}
        verified: list[Row] = []
        for event in events:
            pledge = event.originator_id
            kind = type(event)
            if kind is Pledge.Pledged:
                paths[pledge] = self._paths[event.community]
                new[pledge] = {
                    "pledge_id": pledge,
                    "member_id": event.member_id,
                    "path": paths[pledge],
                    "made_at": event.timestamp,
                    "outcome": None,
                    "outcome_at": None,
                }
            elif kind is Pledge.SessionLogged:
                logged[(pledge, event.session_no)] = {
                    "pledge_id": pledge,
                    "session_no": event.session_no,
                    "path": paths[pledge],
                    "hours": event.hours,
                    "verified_at": None,
                }
            elif kind is Pledge.SessionVerified:
                session = logged.get((pledge, event.session_no))
                if session is not None:
                    session["verified_at"] = event.timestamp
                else:
                    verified.append(
                        {
                            "pledge_id": pledge,
                            "session_no": event.session_no,
                            "verified_at": event.timestamp,
                        }
                    )
            else:
                outcome = {"outcome": PLEDGE_OUTCOMES[kind], "outcome_at": event.timestamp}
                if pledge in new:
                    new[pledge].update(outcome)
                else:
                    outcomes.append({"pledge_id": pledge, **outcome})
        _copy_rows(batch, "assessment_pledges", list(new.values()))
        _copy_rows(batch, "assessment_sessions", list(logged.values()))
        batch.update("assessment_pledges", ["pledge_id"], outcomes)
        batch.update("assessment_sessions", ["pledge_id", "session_no"], verified)

    # --- activities and attendance ---

    def _activities(self, batch: Batch, events: list[Any]) -> None:
        scheduled = {e.originator_id: e.community for e in events if type(e) is Activity.Scheduled}
        if scheduled:
            batch.copy(
                "assessment_activities", ("activity_id", "community"), list(scheduled.items())
            )
        wanted = {e.originator_id for e in events} - scheduled.keys()
        known = batch.fetch("assessment_activities", "activity_id", wanted)
        communities = {**{k: r["community"] for k, r in known.items()}, **scheduled}
        self._path(batch, set(communities.values()))
        new: dict[tuple[UUID, UUID], Row] = {}
        outs: list[Row] = []
        for event in events:
            kind = type(event)
            if kind is Activity.CheckedIn:
                key = (event.originator_id, event.member_id)
                new[key] = {
                    "activity_id": event.originator_id,
                    "member_id": event.member_id,
                    "path": self._paths[communities[event.originator_id]],
                    "checked_in_at": event.at,
                    "in_recorded_at": event.timestamp,
                    "hours": None,
                    "out_recorded_at": None,
                }
            elif kind is Activity.CheckedOut:
                out = {"hours": event.hours, "out_recorded_at": event.timestamp}
                key = (event.originator_id, event.member_id)
                if key in new:
                    new[key].update(out)
                else:
                    outs.append({"activity_id": key[0], "member_id": key[1], **out})
        _copy_rows(batch, "assessment_attendance", list(new.values()))
        batch.update("assessment_attendance", ["activity_id", "member_id"], outs)


_KINDS: dict[type, str] = {
    Jurisdiction.Defined: "path",
    Pledge.Pledged: "pledge",
    Pledge.SessionLogged: "pledge",
    Pledge.SessionVerified: "pledge",
    **dict.fromkeys(PLEDGE_OUTCOMES, "pledge"),
    AssessmentPolicy.Published: "policy",
}


def _reported(event: Any, path: list[str]) -> Row:
    return {
        "ticket_id": event.originator_id,
        "version": event.originator_version,
        "valid_from": event.timestamp,
        "valid_to": None,
        "grid_path": path,
        "reported_at": event.reported_at,
        "respond_due_at": event.respond_due_at,
        "status": "reported",
        "dispatched": False,
        "first_responded_at": None,
        "level": None,
        "esc_levels": [],
        "resolved_at": None,
        "ever_resolved": False,
        "late_resolutions": 0,
        "reopen_count": 0,
        "satisfaction": None,
        "handlers": [],
    }


def _current_tickets(batch: Batch, ids: set[UUID]) -> dict[UUID, Row]:
    """The current (open-ended) rows of the tickets `ids`."""
    if not ids:
        return {}
    statement = sql.SQL("SELECT {} FROM {} WHERE ticket_id = ANY(%s) AND valid_to IS NULL").format(
        sql.SQL(", ").join(map(sql.Identifier, TICKET_COLUMNS)), batch.t("assessment_tickets")
    )
    batch.cur.execute(statement, (list(ids),))
    return {row[0]: dict(zip(TICKET_COLUMNS, row, strict=True)) for row in batch.cur}


def _copy_rows(batch: Batch, base: str, rows: list[Row]) -> None:
    if rows:
        columns = list(rows[0])
        batch.copy(base, columns, ([row[c] for c in columns] for row in rows))


def _policies(batch: Batch, events: list[Any]) -> None:
    """Each version; the version it follows now ends where it begins."""
    for event in events:
        batch.cur.execute(
            batch.sql(
                "UPDATE {assessment_policies} SET effective_until = %s"
                " WHERE jurisdiction = %s AND effective_until IS NULL"
            ),
            (event.effective_from, event.jurisdiction),
        )
        batch.cur.execute(
            batch.sql(
                "INSERT INTO {assessment_policies}"
                " (jurisdiction, version, effective_from, effective_until, terms)"
                " VALUES (%s, %s, %s, NULL, %s)"
            ),
            (event.jurisdiction, event.version, event.effective_from, Jsonb(event.terms)),
        )
