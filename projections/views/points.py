"""Civility points (文明积分): balances, the ledger, entries and double-entry postings.

`PointsProjection` ("points") owns four tables, all folded from PointsAccount events:

- `points_balances`: one row per account (member and community): balance, earned,
  deducted, redeemed, expired, pending (all net of reversals, as the aggregate keeps
  them; balance == earned - deducted - redeemed - expired).
- `points_ledger`: one row per entry event (append-only), with its running balance;
  `kind` names what happened: award | approval | rejection | deduction | redemption |
  reversal | expiry (`entry_kind` is the entry's own kind: an approval's is award);
  `status` is the entry's status as of that row.
- `points_entries`: one current row per entry: pending | posted | rejected | reversed
  (pending awards: `WHERE status = 'pending'`).
- `points_postings`: two legs per posted movement (see points_postings): leg 1 is
  the source account (amount -points), leg 2 the destination (+points); posting_id is
  position * 10 + leg.

The rows are written inside the database, straight from the events table over the
batch's position range (see points_ledger): no event is decoded in Python, and a
batch costs seven statements however many events it holds. Rule versions are a
separate projection (points_rules).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql

from domain.points import PointsAccount
from projections.engine.batch import Batch, Projection
from projections.store.events import EVENTS
from projections.store.rendering import rendered
from projections.views import members
from projections.views.jurisdictions import in_community_of, in_subtree
from projections.views.points_ledger import (
    APPEND_LEDGER,
    BATCH_EVENTS,
    BATCH_ROWS,
    CREATE_ENTRIES,
    DECIDE_ENTRIES,
    ENTRY_TOPICS,
    FOLD_BALANCES,
    FOLDED,
    OPEN_ACCOUNTS,
    OPENED_TOPIC,
    REVERSE_ENTRIES,
)
from projections.views.points_postings import POST_MOVEMENTS, flows_table
from projections.views.points_rules import PointsRulesProjection
from projections.views.points_schema import (
    BALANCES,
    ENTRIES,
    LEDGER,
    POSTINGS,
    create_table,
)
from projections.views.reading import (
    Connection,
    Filter,
    Found,
    Page,
    Reach,
    Row,
    conditions,
    first,
    matching,
    rows,
    stream,
    where,
)

FLOWS = flows_table()
COUNT = rendered(
    sql.SQL(
        "SELECT count(*) FILTER (WHERE topic = %s),"
        " count(*) FILTER (WHERE topic = ANY(%s)) FROM {}"
        " WHERE notification_id > %s AND notification_id <= %s"
    ).format(EVENTS)
)
"""How many accounts a range of positions opens, and how many entry events it holds."""

__all__ = ["PointsProjection", "PointsRulesProjection"]


class PointsProjection(Projection):
    name = "points"
    schema_version = 2  # 2: the points-flow index of the scorecards (`gridledger rebuild points`)
    tables = {
        "points_balances": create_table(
            "points_balances", BALANCES, ", UNIQUE (member_id, community)"
        ),
        "points_ledger": create_table("points_ledger", LEDGER),
        "points_entries": create_table("points_entries", ENTRIES),
        "points_postings": create_table("points_postings", POSTINGS),
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS points_balances_g{g}_community"
        " ON {points_balances} (community, balance DESC)",
        "CREATE INDEX IF NOT EXISTS points_ledger_g{g}_member"
        " ON {points_ledger} (member_id, position)",
        "CREATE INDEX IF NOT EXISTS points_ledger_g{g}_community"
        " ON {points_ledger} (community, recorded_at)",
        "CREATE INDEX IF NOT EXISTS points_entries_g{g}_pending"
        " ON {points_entries} (community, recorded_at) WHERE status = 'pending'",
        "CREATE INDEX IF NOT EXISTS points_entries_g{g}_member"
        " ON {points_entries} (member_id, recorded_at)",
        "CREATE INDEX IF NOT EXISTS points_postings_g{g}_community"
        " ON {points_postings} (community, recorded_at)",
        # A scorecard's points flow (issued, redeemed, deducted in a period) reads this
        # index alone: a district-year's 108,000 legs in about half the time of a scan.
        "CREATE INDEX IF NOT EXISTS points_postings_g{g}_flow ON {points_postings} (recorded_at)"
        " INCLUDE (community, account_type, amount)"
        " WHERE account_type IN ('issuance', 'redeemed', 'deducted')",
    ]
    event_types = (PointsAccount.Event,)
    reads_events = False
    rebuild_weight = 1.6  # 64.3 µs an event (inside the database)

    def apply(self, batch: Batch) -> None:
        opened, entries = self._count(batch)
        params: dict[str, Any] = {
            "after": batch.after,
            "last": batch.last,
            "opened": OPENED_TOPIC,
            "all_topics": [OPENED_TOPIC, *ENTRY_TOPICS],
            "topics": list(ENTRY_TOPICS),
            "kinds": list(ENTRY_TOPICS.values()),
        }
        events = batch.sql(BATCH_EVENTS, events=EVENTS)
        if opened:
            batch.cur.execute(batch.sql(OPEN_ACCOUNTS, batch_events=events), params)
        if not entries:
            return
        batch.cur.execute(batch.sql(APPEND_LEDGER, batch_events=events), params)
        if batch.cur.rowcount != entries:
            raise LookupError(
                f"{entries} points entries between positions {batch.after} and {batch.last}"
                f" gave {batch.cur.rowcount} ledger rows: an account was never opened"
            )
        rows = batch.sql(BATCH_ROWS)
        for statement in (FOLD_BALANCES, CREATE_ENTRIES, DECIDE_ENTRIES, REVERSE_ENTRIES):
            batch.cur.execute(batch.sql(statement, batch_rows=rows, folded_totals=FOLDED), params)
        batch.cur.execute(batch.sql(POST_MOVEMENTS, batch_rows=rows, flows=FLOWS), params)

    @staticmethod
    def _count(batch: Batch) -> tuple[int, int]:
        """How many accounts the batch opens and how many entry events it holds."""
        batch.cur.execute(
            COUNT,
            (OPENED_TOPIC, list(ENTRY_TOPICS), batch.after, batch.last),
        )
        row = batch.cur.fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


# --- reads: the queries of the HTTP API ---

LEDGER_ROWS = sql.SQL("SELECT * FROM points_ledger")
MEMBER_ID = sql.Identifier("member_id")
RULES_NOW = (
    "SELECT * FROM points_rules WHERE community = %s AND is_current AND in_force ORDER BY rule_code"
)
RULES_THEN = (
    "SELECT * FROM points_rules WHERE community = %s AND in_force AND effective_from <= %s"
    " AND (effective_until IS NULL OR effective_until > %s) ORDER BY rule_code"
)


def rulebook(conn: Connection, community: str, as_of: datetime | None) -> list[Row]:
    """The community's rules in force now, or at `as_of`, by code."""
    if as_of is None:
        return rows(conn, RULES_NOW, community)
    return rows(conn, RULES_THEN, community, as_of, as_of)


def account_holders(conn: Connection, community: str) -> list[UUID]:
    """The members with an account in the community, by id."""
    found = conn.execute(
        "SELECT member_id FROM points_balances WHERE community = %s ORDER BY member_id",
        (community,),
    ).fetchall()
    return [r[0] for r in found]


def visible(reach: Reach, member: sql.Composable = MEMBER_ID) -> Filter:
    """The points rows (of a community) `reach` sees: of the communities of its scope; a
    member's own, by the member in `member`."""
    return in_community_of(reach, sql.Identifier("community"), member)


def entry(conn: Connection, entry_id: UUID, reach: Reach) -> Row | None:
    """The points entry, if `reach` sees it."""
    return first(conn, "SELECT * FROM points_entries", ("entry_id = %s", entry_id), visible(reach))


def accounts(conn: Connection, member_id: UUID, reach: Reach) -> list[Row]:
    """The member's accounts `reach` sees, by community."""
    return matching(
        conn,
        "SELECT community, balance, earned, deducted, redeemed, expired, pending"
        " FROM points_balances",
        ("member_id = %s", member_id),
        visible(reach),
        order=" ORDER BY community",
    )


def ledger(
    reach: Reach, member_id: UUID, community: str | None
) -> tuple[list[sql.Composable], list[Any]]:
    """The conditions (and their parameters) of the member's ledger rows that `reach`
    sees, of `community` or of every one."""
    return conditions(visible(reach), ("member_id = %s", member_id), ("community = %s", community))


def ledger_page(
    conn: Connection,
    clauses: list[sql.Composable],
    params: list[Any],
    limit: int,
    cursor: str | None,
) -> Found:
    """The ledger rows matching `clauses`, in order, a page of them."""
    return Page(["position"]).fetch(conn, LEDGER_ROWS, clauses, params, limit, cursor)


@contextmanager
def ledger_rows(
    conn: Connection, clauses: list[sql.Composable], params: list[Any]
) -> Iterator[Iterator[Row]]:
    """Every ledger row matching `clauses`, in order (streamed: see `reading.stream`)."""
    query = sql.SQL("{} {} ORDER BY position").format(LEDGER_ROWS, where(clauses))
    with stream(conn, query, params) as found:
        yield found


def board(
    reach: Reach, jurisdiction: str | None, earned_from: Any, earned_to: Any
) -> tuple[sql.Composable, list[Any]]:
    """The leaderboard's query (member_id, name, points) and its parameters: each
    member's balance, or with `earned_from`/`earned_to` the net points entered then, in
    the communities of the subtree of `jurisdiction`, counting only the accounts `reach`
    sees, and naming only the members it sees."""
    clauses, params = conditions(
        visible(reach, sql.Identifier("b", "member_id")),
        (in_subtree(sql.Identifier("community")), jurisdiction),
        ("recorded_at >= %s", earned_from),
        ("recorded_at < %s", earned_to),
    )
    if earned_from is None and earned_to is None:
        source, amount = sql.Identifier("points_balances"), sql.Identifier("balance")
    else:
        source, amount = sql.Identifier("points_ledger"), sql.Identifier("delta")
    # A name only of a member `reach` sees (members.visible): the points of a
    # community's accounts are not the people's records (a grid worker reads its
    # community's points, but the people of its own grid only).
    named, named_params = members.visible(reach)
    query = sql.SQL(
        "SELECT * FROM (SELECT b.member_id, m.name, sum(b.{amount})::bigint AS points"
        " FROM {source} AS b LEFT JOIN members m ON m.id = b.member_id AND {named} {where}"
        " GROUP BY b.member_id, m.name) AS board"
    ).format(amount=amount, source=source, named=named, where=where(clauses))
    return query, [*named_params, *params]


def board_page(
    conn: Connection, query: sql.Composable, params: list[Any], limit: int, cursor: str | None
) -> Found:
    """A page of the leaderboard `query` (see `board`), by points, most first."""
    page = Page(["points", "member_id"], descending=True)
    return page.fetch(conn, query, [], params, limit, cursor)


@contextmanager
def ranked(conn: Connection, query: sql.Composable, params: list[Any]) -> Iterator[Iterator[Row]]:
    """Every row of the leaderboard `query` (see `board`), by points, most first
    (streamed: see `reading.stream`)."""
    ordered = query + sql.SQL(" ORDER BY points DESC, member_id DESC")
    with stream(conn, ordered, params) as found:
        yield found
