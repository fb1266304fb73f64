"""The ledger's checks (`gridledger reconcile`'s inconsistencies): what is in scope, and
one statement per check answering the rows that fail it (see `reconcile`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic
from psycopg import sql

from domain.activity import Activity
from domain.pledge import Pledge
from domain.rulebook import Trigger
from domain.ticket import Ticket
from projections.store.events import EVENTS
from projections.views.points_ledger import (
    BATCH_EVENTS,
    FOLDED_TOTALS,
)
from projections.views.points_postings import MOVEMENT_LEGS, flows_table

SOURCE_AGGREGATES = {
    "activity": get_topic(Activity),
    "ticket": get_topic(Ticket),
    "pledge": get_topic(Pledge),
}
"""Source kinds that name an aggregate: the source id must be one of that type."""
TRIGGER_SOURCES = {
    Trigger.ACTIVITY_ATTENDANCE.value: "activity",
    Trigger.VALID_REPORT.value: "ticket",
    Trigger.PLEDGE_FULFILLED.value: "pledge",
}
"""The source kind an award by each trigger must have."""
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# The rows in scope: {alias}.community among the communities (NULL: all), recorded at
# or before as_of (NULL: all).
_SCOPE = sql.SQL("(%(communities)s::text[] IS NULL OR {} = ANY(%(communities)s))")
_UPTO = sql.SQL("(%(as_of)s::timestamptz IS NULL OR {} <= %(as_of)s)")


def _in_scope(alias: str, *, dated: bool = True) -> sql.Composable:
    parts = [_SCOPE.format(sql.Identifier(alias, "community"))]
    if dated:
        parts.append(_UPTO.format(sql.Identifier(alias, "recorded_at")))
    return sql.SQL(" AND ").join(parts)


LEDGER = sql.SQL("SELECT * FROM points_ledger AS l WHERE {}").format(_in_scope("l"))
POSTINGS = sql.SQL("SELECT * FROM points_postings AS p WHERE {}").format(_in_scope("p"))


def _account(alias: str) -> sql.Composable:
    """The subject naming the member account of the row aliased `alias`."""
    return sql.SQL("'member:' || {} || ':' || {}").format(
        sql.Identifier(alias, "member_id"), sql.Identifier(alias, "community")
    )


def entry_subject(alias: str) -> sql.Composable:
    """The subject naming the entry of the row aliased `alias`."""
    return sql.SQL("'entry ' || {} || ' (' || {} || ')'").format(
        sql.Identifier(alias, "entry_id"), sql.Identifier(alias, "kind")
    )


# --- the checks: each query answers (community, subject, position, detail) ---


def _columns(alias: str, names: Sequence[str], *, zero: bool = False) -> sql.Composable:
    """`alias.name` for each of `names` (`coalesce(alias.name, 0)` with `zero`), joined
    by commas."""
    template = sql.SQL("coalesce({}, 0)" if zero else "{}")
    return sql.SQL(", ").join(template.format(sql.Identifier(alias, n)) for n in names)


def _labelled(alias: str, names: Sequence[str], *, zero: bool = False) -> sql.Composable:
    """`'name=' || alias.name` for each of `names` (see `_columns`), joined by commas."""
    template = sql.SQL("{} || coalesce({}, 0)" if zero else "{} || {}")
    return sql.SQL(", ").join(
        template.format(sql.Literal(f"{n}="), sql.Identifier(alias, n)) for n in names
    )


_RUNNING_BALANCE = sql.SQL(
    """
SELECT DISTINCT ON (account_id) community, {account} AS subject, position,
  format('entry %%s (%%s): running balance %%s, but its account''s entries up to it'
         ' fold to %%s', entry_id, kind, balance_after, fold) AS detail
FROM (SELECT l.*, sum(delta) OVER (PARTITION BY account_id ORDER BY position) AS fold
      FROM ({ledger}) AS l) AS x
WHERE balance_after <> fold ORDER BY account_id, position
"""
).format(
    account=_account("x"),
    ledger=LEDGER,
)

_TOTALS = ("balance", "earned", "deducted", "redeemed", "expired", "pending")
_BALANCE_ROWS = sql.SQL("""
SELECT coalesce(b.community, f.community) AS community,
  'member:' || coalesce(b.member_id, f.member_id) || ':' || coalesce(b.community, f.community)
    AS subject, f.last_position AS position,
  CASE WHEN b.account_id IS NULL THEN
    format('no balance row for an account with %%s entries', f.entries)
  ELSE format('balance row: %%s; its %%s entries fold to: %%s%%s',
    concat_ws(' ', {stored}),
    coalesce(f.entries, 0),
    concat_ws(' ', {folded}),
    CASE WHEN b.balance <> b.earned - b.deducted - b.redeemed - b.expired
      THEN ' (and balance <> earned - deducted - redeemed - expired)' ELSE '' END)
  END AS detail
FROM (SELECT * FROM points_balances AS b WHERE {scope}) AS b
FULL JOIN (SELECT account_id, min(community) AS community, min(member_id::text)::uuid
    AS member_id, sum(delta) AS balance, {folded_totals}, count(*) AS entries,
    max(position) AS last_position FROM ({ledger}) AS l GROUP BY account_id) AS f
  USING (account_id)
WHERE %(as_of)s::timestamptz IS NULL AND (
  ({stored_totals})
    IS DISTINCT FROM ({folded_totals_of})
  OR b.balance <> b.earned - b.deducted - b.redeemed - b.expired)
ORDER BY 1, 2
""").format(
    stored=_labelled("b", _TOTALS),
    folded=_labelled("f", _TOTALS, zero=True),
    scope=_in_scope("b", dated=False),
    folded_totals=sql.SQL(FOLDED_TOTALS),
    ledger=LEDGER,
    stored_totals=_columns("b", _TOTALS),
    folded_totals_of=_columns("f", _TOTALS, zero=True),
)

_FLOWS = ("issued", "held", "redeemed", "expired", "deducted")
_COMMUNITY = sql.SQL("""
SELECT coalesce(p.community, f.community) AS community,
  'community:' || coalesce(p.community, f.community) AS subject, NULL::bigint AS position,
  format('postings: issued %%s, held %%s, redeemed %%s, expired %%s, deducted %%s;'
         ' entries: issued %%s, held %%s, redeemed %%s, expired %%s, deducted %%s',
         {posted}, {entered})
    AS detail
FROM (SELECT community,
        coalesce(-sum(amount) FILTER (WHERE account_type = 'issuance'), 0) AS issued,
        coalesce(sum(amount) FILTER (WHERE account_type = 'member'), 0) AS held,
        coalesce(sum(amount) FILTER (WHERE account_type = 'redeemed'), 0) AS redeemed,
        coalesce(sum(amount) FILTER (WHERE account_type = 'expired'), 0) AS expired,
        coalesce(sum(amount) FILTER (WHERE account_type = 'deducted'), 0) AS deducted
      FROM ({postings}) AS p GROUP BY community) AS p
FULL JOIN (SELECT community, earned AS issued, balance AS held, redeemed, expired, deducted
      FROM (SELECT community, sum(delta) AS balance, {folded_totals}
            FROM ({ledger}) AS l GROUP BY community) AS t) AS f USING (community)
WHERE p.issued IS DISTINCT FROM p.held + p.redeemed + p.expired + p.deducted
  OR ({posted}) IS DISTINCT FROM ({entered})
ORDER BY 1
""").format(
    posted=_columns("p", _FLOWS),
    entered=_columns("f", _FLOWS),
    postings=POSTINGS,
    folded_totals=sql.SQL(FOLDED_TOTALS),
    ledger=LEDGER,
)

_POSTED_LEGS = sql.SQL(MOVEMENT_LEGS).format(batch_rows=LEDGER, flows=flows_table())
_POSTINGS_MATCH = sql.SQL(
    """
SELECT coalesce(p.community, e.community) AS community,
  'posting ' || coalesce(p.posting_id, e.posting_id) AS subject,
  coalesce(p.position, e.position) AS position,
  CASE WHEN p.posting_id IS NULL THEN
    format('missing: entry %%s (%%s) should post %%s to %%s', e.entry_id, e.kind, e.amount,
           e.account)
  WHEN e.posting_id IS NULL THEN
    format('no posted ledger row makes this leg: %%s to %%s', p.amount, p.account)
  ELSE format('posts %%s to %%s (against %%s); its ledger row makes %%s to %%s (against %%s)',
              p.amount, p.account, p.counter_account, e.amount, e.account, e.counter_account)
  END AS detail
FROM ({posted}) AS e (posting_id, position, leg, entry_id, kind, community, account,
  account_type, member_id, counter_account, amount, recorded_at, on_date)
FULL JOIN ({postings}) AS p USING (posting_id)
WHERE p.posting_id IS NULL OR e.posting_id IS NULL
  OR (p.account, p.counter_account, p.amount, p.entry_id, p.kind)
     IS DISTINCT FROM (e.account, e.counter_account, e.amount, e.entry_id, e.kind)
ORDER BY 3
"""
).format(posted=_POSTED_LEGS, postings=POSTINGS)

_POSTINGS_SUM = sql.SQL(
    """
SELECT community, coalesce('community:' || community, 'all postings') AS subject,
  NULL::bigint AS position, format('postings sum to %%s, not zero', total) AS detail
FROM (SELECT community, sum(amount) AS total FROM ({postings}) AS p
      GROUP BY ROLLUP (community)) AS s
WHERE total <> 0 ORDER BY community NULLS LAST
"""
).format(
    postings=POSTINGS,
)

_TRACED = ("account_id", "entry_id", "points", "delta", "balance_after", "rule_code",
           "rule_version", "source", "awarded_by", "approved_by", "recorded_at")  # fmt: skip
_TRACE = sql.SQL(
    """
WITH ev AS (
  SELECT e.position, e.account_id, k.row_kind AS kind, (e.entry_id ->> '_data_')::uuid
    AS entry_id, e.points, e.delta, e.balance_after, e.rule_code, e.rule_version, e.source,
    e.awarded_by, e.approved_by, (e."timestamp" ->> '_data_')::timestamptz AS recorded_at,
    b.community, b.member_id
  FROM ({batch_events}) AS e
  JOIN unnest(%(topics)s::text[], %(kinds)s::text[]) AS k (topic, row_kind) ON k.topic = e.topic
  LEFT JOIN points_balances AS b ON b.account_id = e.account_id
)
SELECT coalesce(l.community, ev.community) AS community,
  CASE WHEN l.position IS NULL THEN 'event at position ' || ev.position
    ELSE 'entry ' || l.entry_id || ' (' || l.kind || ')' END AS subject,
  coalesce(l.position, ev.position) AS position,
  CASE WHEN l.position IS NULL THEN
    format('the store holds a %%s event of account %%s (entry %%s) with no ledger row',
           ev.kind, ev.account_id, ev.entry_id)
  WHEN ev.position IS NULL THEN
    CASE WHEN x.notification_id IS NULL THEN 'no event in the store at its position'
    ELSE format('the event at its position is %%s of %%s, not an entry event',
                x.topic, x.originator_id) END
  WHEN ev.kind <> l.kind THEN format('the event at its position is a %%s, not a %%s',
                                     ev.kind, l.kind)
  ELSE 'differs from its event in ' || concat_ws(', ', {differing})
  END AS detail
FROM ({ledger}) AS l
FULL JOIN (SELECT * FROM ev WHERE {ev_scope}) AS ev ON ev.position = l.position
LEFT JOIN {events} AS x ON ev.position IS NULL AND x.notification_id = l.position
WHERE l.position IS NULL OR ev.position IS NULL OR ev.kind <> l.kind
  OR ({ledger_fields}) IS DISTINCT FROM ({event_fields})
ORDER BY 3
"""
).format(
    batch_events=sql.SQL(BATCH_EVENTS).format(events=EVENTS),
    events=EVENTS,
    ledger=LEDGER,
    ev_scope=_in_scope("ev"),
    differing=sql.SQL(", ").join(
        sql.SQL("CASE WHEN l.{c} IS DISTINCT FROM ev.{c} THEN {n} END").format(
            c=sql.Identifier(c), n=sql.Literal(c)
        )
        for c in _TRACED
    ),
    ledger_fields=sql.SQL(", ").join(sql.SQL("l.{}").format(sql.Identifier(c)) for c in _TRACED),
    event_fields=sql.SQL(", ").join(sql.SQL("ev.{}").format(sql.Identifier(c)) for c in _TRACED),
)

RULE_VERSIONS = sql.SQL(
    """
SELECT r.*, lead(r.position) OVER (PARTITION BY r.community, r.rule_code ORDER BY r.version)
  AS next_position
FROM points_rules AS r WHERE {scope}
"""
).format(
    scope=_in_scope("r", dated=False),
)
_RULE = sql.SQL(
    """
SELECT community, {entry} AS subject, position, detail FROM (
  SELECT l.*, CASE
    WHEN l.rule_code IS NULL THEN format('a %%s that names no rule', l.kind)
    WHEN v.version IS NULL THEN format('rule %%s version %%s is not in the rulebook of %%s',
                                       l.rule_code, l.rule_version, l.community)
    WHEN l.kind IN ('award', 'deduction') AND NOT v.in_force THEN
      format('rule %%s version %%s retires the rule', l.rule_code, l.rule_version)
    WHEN l.kind IN ('award', 'deduction') AND v.kind <> l.kind THEN
      format('a %%s under %%s rule %%s version %%s', l.kind, v.kind, l.rule_code, l.rule_version)
    END AS detail
  FROM ({ledger}) AS l
  LEFT JOIN points_rules AS v ON v.community = l.community AND v.rule_code = l.rule_code
    AND v.version = l.rule_version
  WHERE l.rule_code IS NOT NULL OR l.kind IN ('award', 'deduction')) AS x
WHERE detail IS NOT NULL ORDER BY position
"""
).format(
    entry=entry_subject("x"),
    ledger=LEDGER,
)

CHECKS: dict[str, tuple[str, list[Any]]] = {
    "balance": ("balances equal the fold of their entries", [_RUNNING_BALANCE, _BALANCE_ROWS]),
    "community": ("issued = held + redeemed + expired + deducted", [_COMMUNITY]),
    "postings": ("postings match the ledger and sum to zero", [_POSTINGS_MATCH, _POSTINGS_SUM]),
    "trace": ("every entry traces to its event in the store", [_TRACE]),
    "rule": ("every entry traces to a rule version", [_RULE]),
}
"""Each check: what it asserts, and the queries answering its failures."""
