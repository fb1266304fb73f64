"""Members (with volunteer hours and points balance) and organisations.

`members` serves `GET /v1/members/{id}`. Beside the member's own events it counts:

- `activity_hours`: the `hours` of every `Activity.CheckedOut` of the member (fixed at
  check-out; an activity with attendance cannot be cancelled). `Activity.Closed` is not
  read: it only gives 0.00 hours to attendees who never checked out.
- `pledge_hours`: the hours of each pledge session of the member's pledges, counted at
  its `Pledge.SessionVerified` (hours known from its `SessionLogged`); unverified
  sessions count nothing.
- `volunteer_hours` = `activity_hours` + `pledge_hours`.
- `points_balance`: the sum of `delta` over every entry event of the member's points
  accounts in every community (`Awarded` pending adds 0, `AwardApproved` adds the
  points, deductions, redemptions and expiries subtract, reversals undo).

`version` is the member aggregate's version; `last_position` the position of the last
event of any of these kinds that changed the row.

Pledge and points events do not name the member on every event, so the projection
keeps two small tables of its own: `member_pledges` (pledge -> member, and the hours of
sessions logged but not yet verified) and `member_points_accounts` (account -> member).

Points events (three in five of those it handles) are only parsed, never decoded
(`Recorded.fields`): their account and `delta` are all it reads of them.

Names and phones are sealed in the log (`domain.personal_data`): the projection opens
them with the keys `data_keys` holds in its batch's transaction, and writes `erased`
for a key already shredded; `Member.Erased` scrubs the row (and sets `erased_at`), so a
live table and one rebuilt after the erasure hold the same. `last_active_at` is the
time of the member's latest event of any of these kinds (the retention rule reads it).

`organisations` serves `GET /v1/organisations/{id}`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic
from psycopg import sql

from domain.activity import Activity
from domain.member import Member
from domain.organisation import Organisation
from domain.personal_data import ERASED, reveal, sealed_kid
from domain.pledge import Pledge
from domain.points import PointsAccount
from projections.engine.batch import Batch, Projection, topics_of
from projections.store import keys
from projections.views.common import to_json
from projections.views.jurisdictions import SUBTREE
from projections.views.reading import (
    Connection,
    Filter,
    Found,
    Page,
    Reach,
    Row,
    conditions,
    first,
    one,
)

REGISTERED = Member.Registered
REPORTED_IN = Member.ReportedIn
CLAIMED = Member.RoleClaimed
RELEASED = Member.RoleReleased
ERASURE = Member.Erased
CHECKED_OUT = Activity.CheckedOut
PLEDGED = Pledge.Pledged
LOGGED = Pledge.SessionLogged
VERIFIED = Pledge.SessionVerified
OPENED_TOPIC = get_topic(PointsAccount.Opened)
POINTS_TOPICS = topics_of((PointsAccount.Event,))
ORG_REGISTERED = Organisation.Registered
ZERO = Decimal("0.00")


class Members(Projection):
    name = "members"
    schema_version = 2
    tables = {
        "members": (
            "CREATE TABLE IF NOT EXISTS {members} ("
            " id uuid PRIMARY KEY, name text NOT NULL, phone text NOT NULL, kind text NOT NULL,"
            " party_member boolean NOT NULL, home_grid text, home_community text,"
            " report_ins jsonb NOT NULL, roles jsonb NOT NULL,"
            " activity_hours numeric(10,2) NOT NULL, pledge_hours numeric(10,2) NOT NULL,"
            " volunteer_hours numeric(10,2) NOT NULL, points_balance bigint NOT NULL,"
            " registered_at timestamptz NOT NULL, version int NOT NULL,"
            " last_position bigint NOT NULL, last_active_at timestamptz NOT NULL,"
            " erased_at timestamptz)"
        ),
        "member_pledges": (
            "CREATE TABLE IF NOT EXISTS {member_pledges} ("
            " pledge_id uuid PRIMARY KEY, member_id uuid NOT NULL, unverified jsonb NOT NULL)"
        ),
        "member_points_accounts": (
            "CREATE TABLE IF NOT EXISTS {member_points_accounts} ("
            " account_id uuid PRIMARY KEY, member_id uuid NOT NULL)"
        ),
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS members_g{g}_home_grid ON {members} (home_grid)",
        "CREATE INDEX IF NOT EXISTS members_g{g}_home_community ON {members} (home_community)",
        "CREATE INDEX IF NOT EXISTS members_g{g}_kind ON {members} (kind)",
    ]
    event_types = (Member.Event, CHECKED_OUT, PLEDGED, LOGGED, VERIFIED, PointsAccount.Event)
    rebuild_weight = 0.95  # 38.0 µs an event

    def __init__(self) -> None:
        self._accounts: dict[Any, Any] = {}
        """Points accounts already seen, and their members: an account's member never
        changes, so any generation may share them; misses are read from
        `member_points_accounts` (past `ACCOUNTS_KEPT` of them, it starts afresh)."""

    def apply(self, batch: Batch) -> None:
        pledges, accounts, member_ids, kids = self._links(batch)
        rows = batch.fetch("members", "id", member_ids)
        opened = keys.fetch(batch.cur, kids)
        touched: dict[Any, dict[str, Any]] = {}
        touched_pledges: dict[Any, dict[str, Any]] = {}
        new_accounts: list[tuple[Any, Any]] = []
        # Hours and points are summed per member, then added to the stored totals in one
        # UPDATE (`_add`), so these events need neither a fetch nor a row rewrite.
        deltas: dict[Any, list[Any]] = {}
        for r in batch.events:
            if r.topic in POINTS_TOPICS:  # parsed, not decoded
                account_id = r.notification.originator_id
                if r.topic == OPENED_TOPIC:
                    accounts[account_id] = self._accounts[account_id] = r.field("member_id")
                    new_accounts.append((account_id, accounts[account_id]))
                    continue
                member_id, column, amount = accounts[account_id], 2, r.fields["delta"]
                at = r.field("timestamp")
            else:
                e = r.event
                kind = type(e)
                at = e.timestamp
                if kind is CHECKED_OUT:
                    member_id, column, amount = e.member_id, 0, e.hours
                elif kind is LOGGED:
                    link = touched_pledges[e.originator_id] = pledges[e.originator_id]
                    link["unverified"][str(e.session_no)] = str(e.hours)
                    continue
                elif kind is VERIFIED:
                    link = touched_pledges[e.originator_id] = pledges[e.originator_id]
                    member_id, column = link["member_id"], 1
                    amount = Decimal(link["unverified"].pop(str(e.session_no)))
                elif kind is PLEDGED:
                    link = {"pledge_id": e.originator_id, "member_id": e.member_id}
                    link["unverified"] = {}
                    pledges[e.originator_id] = touched_pledges[e.originator_id] = link
                    continue
                else:
                    row = self._member_event(rows, e, kind, opened)
                    row["version"] = e.originator_version
                    row["last_active_at"] = e.timestamp
                    row["last_position"] = r.position
                    touched[row["id"]] = row
                    continue
            _sum_into(deltas, member_id, column, amount, r.position, at)
        if new_accounts:
            batch.copy("member_points_accounts", ["account_id", "member_id"], new_accounts)
        batch.upsert(
            "member_pledges",
            ["pledge_id"],
            [
                {**link, "unverified": to_json(link["unverified"])}
                for link in touched_pledges.values()
            ],
        )
        batch.upsert("members", ["id"], [_finish(row) for row in touched.values()])
        _add(batch, deltas)

    def _links(
        self, batch: Batch
    ) -> tuple[dict[Any, dict[str, Any]], dict[Any, Any], set[Any], set[Any]]:
        """Pledge and account links the batch needs; the members its member events touch;
        the data keys its registrations are sealed under."""
        kids: set[Any] = set()
        member_ids: set[Any] = set()
        pledge_ids: set[Any] = set()
        account_ids: set[Any] = set()
        for r in batch.events:
            if r.topic in POINTS_TOPICS:
                if r.topic != OPENED_TOPIC:
                    account_ids.add(r.notification.originator_id)
                continue
            e = r.event
            kind = type(e)
            if kind is LOGGED or kind is VERIFIED:
                pledge_ids.add(e.originator_id)
            elif kind is REGISTERED:
                for kid in (sealed_kid(e.name), sealed_kid(e.phone)):
                    if kid is not None:
                        kids.add(kid)
            elif isinstance(e, Member.Event):
                member_ids.add(e.originator_id)
        pledges = batch.fetch("member_pledges", "pledge_id", pledge_ids)
        kept = self._accounts
        if len(kept) > ACCOUNTS_KEPT:
            kept.clear()
        accounts = {a: kept[a] for a in account_ids if a in kept}
        missing = account_ids - accounts.keys()
        found = batch.fetch("member_points_accounts", "account_id", missing)
        for account_id, row in found.items():
            accounts[account_id] = kept[account_id] = row["member_id"]
        return pledges, accounts, member_ids, kids

    @staticmethod
    def _member_event(
        rows: dict[Any, dict[str, Any]], e: Any, kind: type, opened: dict[str, bytes | None]
    ) -> dict[str, Any]:
        if kind is REGISTERED:
            member_id = e.originator_id
            row = rows[member_id] = {
                "id": member_id,
                "name": reveal(e.name, opened, member_id, "name"),
                "phone": reveal(e.phone, opened, member_id, "phone"),
                "kind": e.kind,
                "party_member": e.party_member,
                "home_grid": e.home_grid,
                "home_community": e.home_community,
                "report_ins": [],
                "roles": [],
                "activity_hours": ZERO,
                "pledge_hours": ZERO,
                "volunteer_hours": ZERO,
                "points_balance": 0,
                "registered_at": e.timestamp,
                "erased_at": None,
            }
            return row
        row = rows[e.originator_id]
        if kind is REPORTED_IN:
            row["report_ins"].append(
                {
                    "community": e.community,
                    "grid": e.grid,
                    "organisation_id": e.organisation_id,
                    "reported_at": e.timestamp,
                }
            )
        elif kind is CLAIMED:
            row["roles"].append(
                {
                    "role": e.role,
                    "jurisdiction": e.jurisdiction,
                    "community": e.community,
                    "title": e.title,
                    "claimed_at": e.timestamp,
                }
            )
        elif kind is ERASURE:
            row["name"] = row["phone"] = ERASED
            row["erased_at"] = e.timestamp
        elif kind is RELEASED:
            row["roles"] = [
                role
                for role in row["roles"]
                if (role["role"], role["jurisdiction"]) != (e.role, e.jurisdiction)
            ]
        return row


ACCOUNTS_KEPT = 200_000
"""The most points accounts `Members` keeps the member of (about 50 MB)."""


def _sum_into(
    deltas: dict[Any, list[Any]], member_id: Any, column: int, amount: Any, position: int, at: Any
) -> None:
    """Add `amount` to the member's total `column` (0 activity hours, 1 pledge hours, 2 points),
    noting the position and the latest time it was changed at."""
    delta = deltas.get(member_id)
    if delta is None:
        delta = deltas[member_id] = [ZERO, ZERO, 0, 0, at]
    delta[column] += amount
    delta[3] = position
    delta[4] = max(delta[4], at)


def _add(batch: Batch, deltas: dict[Any, list[Any]]) -> None:
    """Add each member's batch totals of hours and points to their row."""
    if not deltas:
        return
    ids = sorted(deltas)
    columns = [[deltas[i][c] for i in ids] for c in range(5)]
    batch.cur.execute(
        batch.sql(
            "UPDATE {members} AS m SET activity_hours = m.activity_hours + d.activity,"
            " pledge_hours = m.pledge_hours + d.pledge,"
            " volunteer_hours = m.volunteer_hours + d.activity + d.pledge,"
            " points_balance = m.points_balance + d.points,"
            " last_position = greatest(m.last_position, d.position),"
            " last_active_at = greatest(m.last_active_at, d.at)"
            " FROM unnest(%s::uuid[], %s::numeric[], %s::numeric[], %s::bigint[], %s::bigint[],"
            " %s::timestamptz[]) AS d (id, activity, pledge, points, position, at)"
            " WHERE m.id = d.id"
        ),
        (ids, *columns),
    )


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "volunteer_hours": row["activity_hours"] + row["pledge_hours"],
        "report_ins": to_json(row["report_ins"]),
        "roles": to_json(row["roles"]),
    }


class Organisations(Projection):
    name = "organisations"
    tables = {
        "organisations": (
            "CREATE TABLE IF NOT EXISTS {organisations} ("
            " id uuid PRIMARY KEY, name text NOT NULL, report_ins jsonb NOT NULL,"
            " registered_at timestamptz NOT NULL, version int NOT NULL,"
            " last_position bigint NOT NULL)"
        ),
    }
    event_types = (Organisation.Event,)

    def apply(self, batch: Batch) -> None:
        rows = batch.fetch(
            "organisations",
            "id",
            (r.event.originator_id for r in batch.events if type(r.event) is not ORG_REGISTERED),
        )
        touched: dict[Any, dict[str, Any]] = {}
        for r in batch.events:
            e = r.event
            if type(e) is ORG_REGISTERED:
                row = rows[e.originator_id] = {
                    "id": e.originator_id,
                    "name": e.name,
                    "report_ins": [],
                    "registered_at": e.timestamp,
                }
            else:
                row = rows[e.originator_id]
                row["report_ins"].append(
                    {
                        "community": e.community,
                        "needs": e.needs,
                        "resources": e.resources,
                        "projects": e.projects,
                        "reported_at": e.timestamp,
                    }
                )
            row["version"] = e.originator_version
            row["last_position"] = r.position
            touched[e.originator_id] = row
        batch.upsert(
            "organisations",
            ["id"],
            [{**row, "report_ins": to_json(row["report_ins"])} for row in touched.values()],
        )


# --- reads: the queries of the HTTP API ---

MEMBER_IN_SUBTREE = sql.SQL(
    "(EXISTS (SELECT 1 FROM roster_members r WHERE r.member_id = m.id"
    " AND r.path @> ARRAY[%s]::text[]) OR m.home_grid IN ({}))"
).format(SUBTREE)
"""A member (the table aliased `m`) whose report-in or home grid lies in the subtree of
the code given twice."""
MEMBERS = sql.SQL("SELECT * FROM members AS m")


def visible(reach: Reach) -> Filter:
    """The members (the table aliased `m`) `reach` sees: in its scope's subtree by home
    grid or report-in; a member, itself."""
    return reach.condition(scoped=MEMBER_IN_SUBTREE, scoped_params=2, own="m.id = %s")


def member(conn: Connection, member_id: UUID, reach: Reach) -> Row | None:
    """The member, if `reach` sees it."""
    return first(conn, "SELECT * FROM members AS m", ("m.id = %s", member_id), visible(reach))


def member_seen(conn: Connection, member_id: UUID, reach: Reach) -> bool:
    """Whether the member exists and `reach` sees it."""
    found = first(conn, "SELECT m.id FROM members AS m", ("m.id = %s", member_id), visible(reach))
    return found is not None


def home_grid(conn: Connection, member_id: UUID, reach: Reach) -> Row | None:
    """The member's id and home grid, if `reach` sees it."""
    return first(
        conn, "SELECT m.id, m.home_grid FROM members m", ("m.id = %s", member_id), visible(reach)
    )


def members(
    conn: Connection,
    reach: Reach,
    *,
    jurisdiction: str | None,
    kind: str | None,
    role: str | None,
    limit: int,
    cursor: str | None,
) -> Found:
    """The members `reach` sees, by id: reported in to, or living in, the subtree of
    `jurisdiction`, of `kind`, holding `role`."""
    clauses, params = conditions(
        visible(reach),
        (MEMBER_IN_SUBTREE, jurisdiction and (jurisdiction, jurisdiction)),
        ("m.kind = %s", kind),
        ("m.roles @> %s::jsonb", role and json.dumps([{"role": role}])),
    )
    return Page(["id"]).fetch(conn, MEMBERS, clauses, params, limit, cursor)


def organisation(conn: Connection, organisation_id: UUID) -> Row | None:
    return one(conn, "SELECT * FROM organisations WHERE id = %s", organisation_id)
