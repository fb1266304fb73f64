"""Tickets: one current row per ticket, for the queues by grid subtree, status, level
and overdue flags.

The row carries every field of `GET /v1/tickets/{id}` and more: the ticket's place in
the jurisdiction tree (`district`, `street`, `community`, and `grid_path`, the codes
from the root down to its grid, so a subtree is `grid_path @> ARRAY[code]`), its
description, reporter and location, and counts of its reopens, escalations,
supervisions and return visits.

The tree comes from `Jurisdiction.Defined` events, kept in the projection's own
`ticket_jurisdiction_paths` (code -> path): a grid is always defined before a ticket
is reported in it, and a node never moves, so a ticket's path is fixed when reported.

A batch is folded in Python: the changeable columns of the tickets it touches are
fetched once, the events applied in order, then new tickets are written with COPY and
the others with one pipelined UPDATE of those columns.

A description, address or rating comment a member reported is sealed in the log
(`domain.personal_data`): it is opened with the keys `data_keys` holds in the batch's
transaction (`erased` once shredded), and `Member.Erased` scrubs those columns of every
ticket the member reported, so a live table and a rebuild after the erasure agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from domain.jurisdiction import Jurisdiction
from domain.member import Member
from domain.personal_data import ERASED, reveal, sealed_kid
from domain.ticket import Ticket
from projections.engine.batch import Batch, Projection
from projections.store import keys
from projections.views.reading import (
    Connection,
    Filter,
    Filters,
    Found,
    Page,
    Reach,
    conditions,
    first,
    rows,
    where,
)

Row = dict[str, Any]

TICKETS_DDL = (
    "CREATE TABLE IF NOT EXISTS {tickets} ("
    " id uuid PRIMARY KEY, status text NOT NULL, category text NOT NULL, grid text NOT NULL,"
    " level text, assignee text, source text NOT NULL, priority text NOT NULL,"
    " reported_at timestamptz NOT NULL, respond_due_at timestamptz NOT NULL,"
    " responded_at timestamptz, resolve_due_at timestamptz NOT NULL,"
    " resolved_at timestamptz, closed_at timestamptz, satisfaction text,"
    " response_overdue boolean NOT NULL, resolution_overdue boolean NOT NULL,"
    " version int NOT NULL, community text NOT NULL, street text, district text NOT NULL,"
    " grid_path text[] NOT NULL, description text NOT NULL, reporter_member_id uuid,"
    " location jsonb, dispatched_at timestamptz, resolution text, rating_comment text,"
    " rejection_reason text, duplicate_of uuid, reopen_count int NOT NULL,"
    " escalation_count int NOT NULL, supervision_count int NOT NULL,"
    " visit_count int NOT NULL, resolution_overdue_count int NOT NULL,"
    " last_position bigint NOT NULL, updated_at timestamptz NOT NULL)"
)

COLUMNS = (
    "id", "status", "category", "grid", "level", "assignee", "source", "priority",
    "reported_at", "respond_due_at", "responded_at", "resolve_due_at", "resolved_at",
    "closed_at", "satisfaction", "response_overdue", "resolution_overdue", "version",
    "community", "street", "district", "grid_path", "description", "reporter_member_id",
    "location", "dispatched_at", "resolution", "rating_comment", "rejection_reason",
    "duplicate_of", "reopen_count", "escalation_count", "supervision_count", "visit_count",
    "resolution_overdue_count", "last_position", "updated_at",
)  # fmt: skip

MUTABLE = (
    "status", "level", "assignee", "responded_at", "resolve_due_at", "resolved_at",
    "closed_at", "satisfaction", "response_overdue", "resolution_overdue", "version",
    "dispatched_at", "resolution", "rating_comment", "rejection_reason", "duplicate_of",
    "reopen_count", "escalation_count", "supervision_count", "visit_count",
    "resolution_overdue_count", "last_position", "updated_at", "reporter_member_id",
)  # fmt: skip
"""The columns a ticket's events after `Reported` may change: all an update writes (and
the reporter, which a rating comment is opened with)."""


def _new_row(event: Any, path: list[str]) -> Row:
    return {
        "id": event.originator_id,
        "status": "reported",
        "category": event.category,
        "grid": event.grid,
        "level": None,
        "assignee": None,
        "source": event.source,
        "priority": event.priority,
        "reported_at": event.reported_at,
        "respond_due_at": event.respond_due_at,
        "responded_at": None,
        "resolve_due_at": event.resolve_due_at,
        "resolved_at": None,
        "closed_at": None,
        "satisfaction": None,
        "response_overdue": False,
        "resolution_overdue": False,
        "version": event.originator_version,
        "community": event.community,
        "street": path[1] if len(path) > 1 else None,
        "district": path[0],
        "grid_path": path,
        "description": event.description,
        "reporter_member_id": event.reporter_member_id,
        "location": event.location,
        "dispatched_at": None,
        "resolution": None,
        "rating_comment": None,
        "rejection_reason": None,
        "duplicate_of": None,
        "reopen_count": 0,
        "escalation_count": 0,
        "supervision_count": 0,
        "visit_count": 0,
        "resolution_overdue_count": 0,
        "last_position": 0,
        "updated_at": event.timestamp,
    }


def _accepted(row: Row, event: Any) -> None:
    row["status"] = "accepted"


def _rejected(row: Row, event: Any) -> None:
    row["status"] = "rejected"
    row["rejection_reason"] = event.reason
    row["duplicate_of"] = event.duplicate_of


def _dispatched(row: Row, event: Any) -> None:
    row["status"] = "dispatched"
    row["level"] = event.level
    row["assignee"] = event.assignee
    row["dispatched_at"] = event.at


def _responded(row: Row, event: Any) -> None:
    row["status"] = "responded"
    if row["responded_at"] is None:
        row["responded_at"] = event.at


def _escalated(row: Row, event: Any) -> None:
    row["status"] = "accepted"
    row["level"] = event.to_level
    row["assignee"] = None
    row["escalation_count"] += 1


def _supervised(row: Row, event: Any) -> None:
    row["supervision_count"] += 1


def _resolved(row: Row, event: Any) -> None:
    row["status"] = "resolved"
    row["resolution"] = event.resolution
    row["resolved_at"] = event.at


def _rated(row: Row, event: Any) -> None:
    row["satisfaction"] = event.satisfaction
    row["rating_comment"] = event.comment


def _visited(row: Row, event: Any) -> None:
    row["visit_count"] += 1


def _closed(row: Row, event: Any) -> None:
    row["status"] = "closed"
    row["closed_at"] = event.at


def _reopened(row: Row, event: Any) -> None:
    """A new round: back to dispatched with a new resolution deadline, unrated."""
    row["status"] = "dispatched"
    row["resolve_due_at"] = event.resolve_due_at
    row["resolution"] = None
    row["resolved_at"] = None
    row["closed_at"] = None
    row["satisfaction"] = None
    row["rating_comment"] = None
    row["resolution_overdue"] = False
    row["reopen_count"] += 1


def _response_overdue(row: Row, event: Any) -> None:
    row["response_overdue"] = True


def _resolution_overdue(row: Row, event: Any) -> None:
    row["resolution_overdue"] = True
    row["resolution_overdue_count"] += 1


HANDLERS: dict[type, Callable[[Row, Any], None]] = {
    Ticket.Accepted: _accepted,
    Ticket.Rejected: _rejected,
    Ticket.Dispatched: _dispatched,
    Ticket.Responded: _responded,
    Ticket.Escalated: _escalated,
    Ticket.Supervised: _supervised,
    Ticket.Resolved: _resolved,
    Ticket.Rated: _rated,
    Ticket.Visited: _visited,
    Ticket.Closed: _closed,
    Ticket.Reopened: _reopened,
    Ticket.ResponseOverdue: _response_overdue,
    Ticket.ResolutionOverdue: _resolution_overdue,
}


class Tickets(Projection):
    name = "tickets"
    schema_version = 1
    tables = {
        "tickets": TICKETS_DDL,
        "ticket_jurisdiction_paths": (
            "CREATE TABLE IF NOT EXISTS {ticket_jurisdiction_paths} ("
            " code text PRIMARY KEY, kind text NOT NULL, path text[] NOT NULL)"
        ),
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS tickets_g{g}_path ON {tickets} USING gin (grid_path)",
        "CREATE INDEX IF NOT EXISTS tickets_g{g}_status ON {tickets} (status, reported_at)",
        "CREATE INDEX IF NOT EXISTS tickets_g{g}_level ON {tickets} (level, status)",
        "CREATE INDEX IF NOT EXISTS tickets_g{g}_reported ON {tickets} (reported_at)",
        "CREATE INDEX IF NOT EXISTS tickets_g{g}_overdue ON {tickets} (reported_at)"
        " WHERE response_overdue OR resolution_overdue",
        "CREATE INDEX IF NOT EXISTS tickets_g{g}_reporter ON {tickets} (reporter_member_id)"
        " WHERE reporter_member_id IS NOT NULL",
    ]
    event_types = (Ticket.Event, Jurisdiction.Defined, Member.Erased)
    rebuild_weight = 1.3  # 50.8 µs an event

    def __init__(self) -> None:
        self._paths: dict[str, list[str]] = {}
        """Jurisdiction paths already seen: a code's path never changes, so any
        generation may share them; misses are read from `ticket_jurisdiction_paths`."""

    def apply(self, batch: Batch) -> None:
        paths = self._paths
        defined: list[tuple[str, str, list[str]]] = []
        events: list[tuple[int, Any]] = []
        reported: set[UUID] = set()
        touched: set[UUID] = set()
        erased: list[UUID] = []
        kids: set[str] = set()
        for recorded in batch.events:
            event = recorded.event
            if type(event) is Member.Erased:
                erased.append(event.originator_id)
                continue
            kids.update(_kids(event))
            if type(event) is Jurisdiction.Defined:
                path = list(event.path)
                paths[event.code] = path
                defined.append((event.code, event.kind, path))
                continue
            if type(event) is Ticket.Reported:
                reported.add(event.originator_id)
            touched.add(event.originator_id)
            events.append((recorded.position, event))
        if defined:
            batch.copy("ticket_jurisdiction_paths", ("code", "kind", "path"), defined)
        if events:
            self._apply(batch, events, reported, touched, keys.fetch(batch.cur, kids))
        if erased:
            batch.cur.execute(batch.sql(SCRUB, erased=ERASED_TEXT), (erased,))

    def _apply(
        self,
        batch: Batch,
        events: list[tuple[int, Any]],
        reported: set[UUID],
        touched: set[UUID],
        opened: dict[str, bytes | None],
    ) -> None:
        paths = self._paths
        rows = self._fetch(batch, touched - reported)
        known = set(rows)
        self._read_paths(batch, {e.grid for _, e in events if type(e) is Ticket.Reported})
        for position, event in events:
            if type(event) is Ticket.Reported:
                row = rows[event.originator_id] = _new_row(event, paths[event.grid])
                _open_report(row, opened)
            else:
                row = rows[event.originator_id]
                HANDLERS[type(event)](row, event)
                if type(event) is Ticket.Rated and row["reporter_member_id"] is not None:
                    subject = row["reporter_member_id"]
                    row["rating_comment"] = reveal(event.comment, opened, subject, "rating_comment")
                row["version"] = event.originator_version
                row["updated_at"] = event.timestamp
            row["last_position"] = position
        ordered = sorted(rows.values(), key=lambda row: row["last_position"])
        batch.copy(
            "tickets",
            COLUMNS,
            ([stored[c] for c in COLUMNS] for stored in _created(ordered, known)),
        )
        batch.update("tickets", ["id"], [row for row in ordered if row["id"] in known])

    @staticmethod
    def _fetch(batch: Batch, ids: set[UUID]) -> dict[UUID, Row]:
        """The changeable columns of the tickets `ids` as they stand."""
        if not ids:
            return {}
        statement = sql.SQL("SELECT id, {} FROM {} WHERE id = ANY(%s)").format(
            sql.SQL(", ").join(map(sql.Identifier, MUTABLE)), batch.t("tickets")
        )
        batch.cur.execute(statement, (list(ids),))
        return {row[0]: dict(zip(("id", *MUTABLE), row, strict=True)) for row in batch.cur}

    def _read_paths(self, batch: Batch, grids: set[str]) -> None:
        """Learn the paths of `grids` defined before this batch (after a restart)."""
        wanted = grids - self._paths.keys()
        found = batch.fetch("ticket_jurisdiction_paths", "code", wanted)
        for code in sorted(wanted):
            if code not in found:
                raise LookupError(f"grid {code!r} has no Jurisdiction.Defined before its ticket")
            self._paths[code] = list(found[code]["path"])


SCRUB = (
    "UPDATE {tickets} SET description = {erased},"
    " rating_comment = CASE WHEN rating_comment IS NULL THEN NULL ELSE {erased} END,"
    " location = CASE WHEN location IS NULL THEN NULL"
    " ELSE jsonb_set(location, '{{address}}', to_jsonb({erased}::text)) END"
    " WHERE reporter_member_id = ANY(%s)"
)
"""Scrub what the erased members (the parameter) reported."""
ERASED_TEXT = sql.Literal(ERASED)


def _kids(event: Any) -> list[str]:
    """The data keys a ticket event's sealed fields are under."""
    kind = type(event)
    if kind is Ticket.Reported:
        found = [sealed_kid(event.description)]
        if event.location is not None:
            found.append(sealed_kid(event.location.get("address")))
    elif kind is Ticket.Rated:
        found = [sealed_kid(event.comment)]
    else:
        return []
    return [k for k in found if k is not None]


def _open_report(row: Row, opened: dict[str, bytes | None]) -> None:
    subject = row["reporter_member_id"]
    if subject is None:
        return
    row["description"] = reveal(row["description"], opened, subject, "description")
    location = row["location"]
    if location is not None:
        row["location"] = {
            **location,
            "address": reveal(location["address"], opened, subject, "address"),
        }


def _created(rows: list[Row], known: set[UUID]) -> Iterator[Row]:
    """The rows of tickets new in this batch, their jsonb value wrapped for COPY."""
    for row in rows:
        if row["id"] not in known:
            location = row["location"]
            yield {**row, "location": None if location is None else Jsonb(location)}


# --- reads: the queries of the HTTP API ---

TICKETS = sql.SQL("SELECT * FROM tickets")


def visible(reach: Reach) -> Filter:
    """The tickets `reach` sees: in its scope's subtree; a member's, those it reported."""
    return reach.condition(
        scoped="grid_path @> ARRAY[%s]::text[]", scoped_params=1, own="reporter_member_id = %s"
    )


def ticket(conn: Connection, ticket_id: UUID, reach: Reach) -> Row | None:
    """The ticket, if `reach` sees it."""
    return first(conn, "SELECT * FROM tickets", ("id = %s", ticket_id), visible(reach))


def ticket_seen(conn: Connection, ticket_id: UUID, reach: Reach) -> bool:
    """Whether the ticket exists and `reach` sees it."""
    return first(conn, "SELECT id FROM tickets", ("id = %s", ticket_id), visible(reach)) is not None


def tickets(
    conn: Connection,
    reach: Reach,
    *,
    grid: str | None,
    status: str | None,
    level: str | None,
    reported_from: datetime | None,
    reported_to: datetime | None,
    overdue: bool | None,
    limit: int,
    cursor: str | None,
) -> Found:
    """The tickets `reach` sees, newest first: in the subtree of `grid`, of `status` and
    `level`, reported in [`reported_from`, `reported_to`), overdue or not."""
    clauses, params = conditions(
        visible(reach),
        ("grid_path @> ARRAY[%s]::text[]", grid),
        ("status = %s", status),
        ("level = %s", level),
        ("reported_at >= %s", reported_from),
        ("reported_at < %s", reported_to),
        ("(response_overdue OR resolution_overdue) = %s", overdue),
    )
    page = Page(["reported_at", "id"], descending=True)
    return page.fetch(conn, TICKETS, clauses, params, limit, cursor)


def newest(conn: Connection, filters: Sequence[Filters], limit: int, offset: int) -> list[Row]:
    """The tickets matching every filter (see `reading.conditions`; at least one must
    apply), newest first: `limit` of them after the first `offset`."""
    clauses, params = conditions(*filters)
    statement = sql.SQL(
        "SELECT * FROM tickets {} ORDER BY reported_at DESC, id DESC LIMIT %s OFFSET %s"
    ).format(where(clauses))
    return rows(conn, statement, *params, limit, offset)
