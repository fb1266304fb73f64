"""Reconciling the civility-points ledger, and the anomaly report (`gridledger reconcile`).

Every check is one SQL statement over the query tables of the `points` and
`points_rules` projections and the event store, so a district's year reconciles in
seconds. Each answers the rows that fail it; a failure of a *check* is an
inconsistency (the ledger does not add up, or does not trace to the log), a hit of an
*anomaly* query is a fact an evaluator should look at (the ledger adds up, but what
it records looks wrong).

Checks (inconsistencies):

- `balance`: each ledger row's running balance equals the fold (sum of deltas) of its
  account's entries up to it (the first row where they part is named); and, for the
  current ledger, each account's balance row equals the fold of all its entries
  (balance, earned, deducted, redeemed, expired, pending), with balance = earned -
  deducted - redeemed - expired, and every account with entries has a balance row.
- `community`: per community, issued = held + redeemed + expired + deducted, both as
  the postings count them (issued = minus the issuance account's balance) and as the
  ledger's entries fold them (earned, balances, redeemed, expired, deducted); the two
  must agree term by term.
- `postings`: the postings are exactly the legs the ledger's posted rows make (the
  same flows the projection uses: a posting missing, extra, or with another account or
  amount is named); they sum to zero per community and in all.
- `trace`: every ledger row has its event in the store at its position: a
  PointsAccount entry event of the row's kind, of the row's account, with the same
  entry id, points, delta, running balance, rule, source, awarder and approver and
  recorded at the same time; and every entry event in the store has its ledger row.
- `rule`: every award and deduction names a rule, and every row naming a rule names
  an existing version (community, rule_code, rule_version) of the rulebooks, a
  version that puts the rule in force, of the entry's kind (award or deduction).

Anomalies (see `ANOMALIES`): caps exceeded, awards without a valid source,
self-awards, self-approvals, approvals by the awarder, redemptions beyond the balance,
awards under a rule version not in force when recorded, bursts of awards by one actor.

Scope: a set of communities (None: all). `as_of=T`: only what was recorded at or
before T (ledger rows, postings and events by their `recorded_at`); the balance rows
(which are current) are then not compared.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from eventsourcing.utils import get_topic
from psycopg import sql
from psycopg.rows import dict_row

from domain.activity import Activity
from domain.pledge import Pledge
from domain.rulebook import Trigger
from domain.ticket import Ticket
from projections.store.events import EVENTS, max_position
from projections.store.snapshot import one_snapshot
from projections.views.points_ledger import (
    BATCH_EVENTS,
    ENTRY_TOPICS,
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
DEFAULT_BURST_AWARDS = 30
DEFAULT_BURST_MINUTES = 10
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


def _entry(alias: str) -> sql.Composable:
    """The subject naming the entry of the row aliased `alias`."""
    return sql.SQL("'entry ' || {} || ' (' || {} || ')'").format(
        sql.Identifier(alias, "entry_id"), sql.Identifier(alias, "kind")
    )


@dataclass(frozen=True)
class Finding:
    """One inconsistency: which check, where, and what disagrees."""

    check: str
    community: str | None
    subject: str
    position: int | None
    detail: str


@dataclass(frozen=True)
class Anomaly:
    """One anomaly: its kind, the entry (or actor) it concerns, and why."""

    kind: str
    community: str | None
    subject: str
    position: int | None
    recorded_at: datetime | None
    actor: str | None
    detail: str
    ends_at: datetime | None = None
    """A burst's last award (a burst counts in every period it reaches into)."""


@dataclass
class Report:
    communities: list[str] | None
    as_of: datetime | None
    counts: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def consistent(self) -> bool:
        return not self.findings

    def failures(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def as_json(self) -> dict[str, Any]:
        return {
            "consistent": self.consistent,
            "communities": self.communities,
            "as_of": _iso(self.as_of),
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
            "checks": {name: len(self.failures(name)) for name in CHECKS},
            "inconsistencies": [asdict(f) for f in self.findings],
            "anomalies": [
                {**asdict(a), "recorded_at": _iso(a.recorded_at), "ends_at": _iso(a.ends_at)}
                for a in self.anomalies
            ],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


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

_RULE_VERSIONS = sql.SQL(
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
    entry=_entry("x"),
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


# --- anomalies: each query answers (community, subject, position, recorded_at, actor,
# detail) ---

_CAP_PERIODS = sql.SQL("(VALUES ('per_day', 10), ('per_month', 7), ('per_year', 4))")
_CAPS = sql.SQL(
    """
WITH counted AS (
  SELECT l.account_id, l.rule_code, l.on_date AS counted_on, l.position, l.points AS n,
    true AS is_entry, l.rule_version, l.entry_id
  FROM ({ledger}) AS l
  WHERE l.kind IN ('award', 'deduction') AND l.rule_code IS NOT NULL
  UNION ALL
  SELECT l.account_id, l.rule_code, o.on_date, l.position, -l.points, false, NULL, l.entry_id
  FROM ({ledger}) AS l
  JOIN points_entries AS o
    ON o.entry_id = CASE WHEN l.kind = 'rejection' THEN l.entry_id ELSE l.reverses END
  WHERE l.rule_code IS NOT NULL
    AND (l.kind = 'rejection' OR (l.kind = 'reversal' AND l.reverses_kind IN ('award', 'deduction')))
), running AS (
  SELECT c.*, p.cap_name, left(c.counted_on::text, p.width) AS period,
    sum(c.n) OVER (PARTITION BY c.account_id, c.rule_code, p.cap_name,
                   left(c.counted_on::text, p.width) ORDER BY c.position) AS used
  FROM counted AS c CROSS JOIN {cap_periods} AS p (cap_name, width)
), passed AS (
  SELECT r.position, string_agg(format('%%s=%%s in %%s (%%s counted)', r.cap_name,
      CASE r.cap_name WHEN 'per_day' THEN v.per_day WHEN 'per_month' THEN v.per_month
      ELSE v.per_year END, r.period, r.used), '; ' ORDER BY r.cap_name) AS caps
  FROM running AS r
  JOIN points_ledger AS l ON l.position = r.position
  JOIN points_rules AS v ON v.community = l.community AND v.rule_code = r.rule_code
    AND v.version = r.rule_version
  WHERE r.is_entry AND r.used > CASE r.cap_name WHEN 'per_day' THEN v.per_day
    WHEN 'per_month' THEN v.per_month ELSE v.per_year END
  GROUP BY r.position
)
SELECT l.community, {entry} AS subject, l.position, l.recorded_at,
  l.awarded_by AS actor, format('%%s points of rule %%s v%%s for member %%s pass its caps: %%s',
    l.points, l.rule_code, l.rule_version, l.member_id, p.caps) AS detail
FROM passed AS p JOIN points_ledger AS l USING (position) ORDER BY l.position
"""  # noqa: E501
).format(
    ledger=LEDGER,
    cap_periods=_CAP_PERIODS,
    entry=_entry("l"),
)

_SOURCES = sql.SQL("""
SELECT l.community, {entry} AS subject, l.position, l.recorded_at,
  l.awarded_by AS actor, CASE
    WHEN want.kind <> l.source ->> 'kind' THEN
      format('awarded by trigger %%s, which awards for a %%s, for a %%s %%s', v.trigger,
             want.kind, l.source ->> 'kind', l.source ->> 'id')
    WHEN NOT (l.source ->> 'id') ~ {uuid} THEN
      format('source %%s %%s is no id', l.source ->> 'kind', l.source ->> 'id')
    WHEN first.topic IS NULL THEN
      format('source %%s %%s does not exist', l.source ->> 'kind', l.source ->> 'id')
    ELSE format('source %%s %%s is a %%s', l.source ->> 'kind', l.source ->> 'id',
                regexp_replace(first.topic, '[.][^.]*$', ''))
  END AS detail
FROM ({ledger}) AS l
LEFT JOIN unnest(%(source_kinds)s::text[], %(source_topics)s::text[]) AS k (kind, topic)
  ON k.kind = l.source ->> 'kind'
LEFT JOIN points_rules AS v ON v.community = l.community AND v.rule_code = l.rule_code
  AND v.version = l.rule_version
LEFT JOIN unnest(%(triggers)s::text[], %(trigger_kinds)s::text[]) AS want (trigger, kind)
  ON l.awarded_by = 'system' AND want.trigger = v.trigger
LEFT JOIN {events} AS first
  ON first.originator_id = CASE WHEN k.kind IS NOT NULL AND (l.source ->> 'id') ~ {uuid}
    THEN (l.source ->> 'id')::uuid END
  AND first.originator_version = 1
WHERE l.kind IN ('award', 'deduction') AND (
  want.kind <> l.source ->> 'kind'
  OR (k.kind IS NOT NULL AND (first.topic IS NULL OR first.topic NOT LIKE k.topic || '.%%')))
ORDER BY l.position
""").format(
    entry=_entry("l"),
    uuid=sql.Literal(UUID_PATTERN),
    ledger=LEDGER,
    events=EVENTS,
)

_PEOPLE = sql.SQL(
    """
SELECT l.community, {entry} AS subject, l.position, l.recorded_at,
  CASE WHEN l.kind = 'award' THEN l.awarded_by ELSE l.approved_by END AS actor,
  CASE WHEN l.kind = 'award' THEN format('%%s awarded %%s points to themselves',
                                         l.awarded_by, l.points)
    WHEN l.approved_by = l.member_id::text THEN
      format('member %%s approved an award of %%s points to themselves', l.approved_by, l.points)
    ELSE format('%%s approved the award of %%s points they made', l.approved_by, l.points)
  END AS detail,
  CASE WHEN l.kind = 'award' THEN 'self_award'
    WHEN l.approved_by = l.member_id::text THEN 'self_approval'
    ELSE 'approval_by_awarder' END AS kind
FROM ({ledger}) AS l
WHERE (l.kind = 'award' AND l.awarded_by = l.member_id::text)
  OR (l.kind = 'approval' AND (l.approved_by = l.member_id::text
                               OR l.approved_by = l.awarded_by))
ORDER BY l.position
"""
).format(
    entry=_entry("l"),
    ledger=LEDGER,
)

_REDEMPTIONS = sql.SQL(
    """
SELECT community, {entry} AS subject, position, recorded_at, actor_id AS actor,
  format('member %%s redeemed %%s points (%%s) with a balance of %%s', member_id, points, item,
         before) AS detail
FROM (SELECT l.*, coalesce(sum(delta) OVER (PARTITION BY account_id ORDER BY position
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
      FROM ({ledger}) AS l) AS x
WHERE kind = 'redemption' AND points > before ORDER BY position
"""
).format(
    entry=_entry("x"),
    ledger=LEDGER,
)

_STALE_RULES = sql.SQL(
    """
SELECT l.community, {entry} AS subject, l.position, l.recorded_at,
  l.actor_id AS actor,
  format('recorded under rule %%s version %%s, in force from position %%s%%s', l.rule_code,
         l.rule_version, v.position,
         coalesce(' to position ' || v.next_position, '')) AS detail
FROM ({ledger}) AS l
JOIN ({rule_versions}) AS v ON v.community = l.community AND v.rule_code = l.rule_code
  AND v.version = l.rule_version
WHERE l.kind IN ('award', 'deduction')
  AND (v.position > l.position OR v.next_position < l.position)
ORDER BY l.position
"""
).format(
    entry=_entry("l"),
    ledger=LEDGER,
    rule_versions=_RULE_VERSIONS,
)

_BURSTS = sql.SQL(
    """
SELECT * FROM (
  SELECT community, entry_id, position, recorded_at, awarded_by AS actor,
    count(*) OVER w AS awards, min(recorded_at) OVER w AS since
  FROM ({ledger}) AS l
  WHERE kind = 'award' AND awarded_by IS NOT NULL AND awarded_by <> 'system'
  WINDOW w AS (PARTITION BY awarded_by ORDER BY recorded_at
               RANGE BETWEEN %(burst_window)s PRECEDING AND CURRENT ROW)
) AS x WHERE awards > %(burst_awards)s ORDER BY actor, recorded_at, position
"""
).format(
    ledger=LEDGER,
)

ANOMALIES: dict[str, str] = {
    "cap_exceeded": "an award or deduction passes its rule version's cap for the local"
    " day, month or year",
    "invalid_source": "an award or deduction whose source names no existing aggregate of"
    " its kind, or a triggered award for the wrong kind of source",
    "self_award": "the awarder is the member awarded",
    "self_approval": "the approver is the member awarded",
    "approval_by_awarder": "the approver is the awarder",
    "redemption_beyond_balance": "a redemption of more points than the balance before it",
    "rule_not_in_force": "an award or deduction under a rule version not in force when"
    " it was recorded (superseded or not yet published)",
    "award_burst": "one actor made more than N awards within M minutes",
}


@dataclass(frozen=True)
class Options:
    communities: Sequence[str] | None = None
    as_of: datetime | None = None
    burst_awards: int = DEFAULT_BURST_AWARDS
    burst_minutes: int = DEFAULT_BURST_MINUTES
    since: datetime | None = None
    """Anomalies recorded before this are left out (the history before still counts)."""


def _params(conn: psycopg.Connection[Any], options: Options) -> dict[str, Any]:
    return {
        "communities": None if options.communities is None else list(options.communities),
        "as_of": options.as_of,
        "after": 0,
        "last": max_position(conn),
        "all_topics": list(ENTRY_TOPICS),
        "topics": list(ENTRY_TOPICS),
        "kinds": list(ENTRY_TOPICS.values()),
        "source_kinds": list(SOURCE_AGGREGATES),
        "source_topics": list(SOURCE_AGGREGATES.values()),
        "triggers": list(TRIGGER_SOURCES),
        "trigger_kinds": list(TRIGGER_SOURCES.values()),
        "burst_window": timedelta(minutes=options.burst_minutes),
        "burst_awards": options.burst_awards,
    }


def _query(conn: psycopg.Connection[Any], query: Any, params: dict[str, Any]) -> list[dict]:
    statement = sql.SQL(query) if isinstance(query, str) else query
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(statement, params).fetchall()


def _counts(conn: psycopg.Connection[Any], params: dict[str, Any]) -> dict[str, int]:
    query = sql.SQL(
        "SELECT count(*) AS entries, count(DISTINCT account_id) AS accounts,"
        " (SELECT count(*) FROM ({postings}) AS p) AS postings,"
        " count(DISTINCT community) AS communities FROM ({ledger}) AS l"
    ).format(postings=POSTINGS, ledger=LEDGER)
    (row,) = _query(conn, query, params)
    return {k: int(v) for k, v in row.items()}


def check(
    conn: psycopg.Connection[Any], options: Options, params: dict[str, Any] | None = None
) -> list[Finding]:
    """Every inconsistency of the ledger in scope (empty: it reconciles)."""
    params = params or _params(conn, options)
    return [
        Finding(check=name, **row)
        for name, (_, queries) in CHECKS.items()
        for query in queries
        for row in _query(conn, query, params)
    ]


def anomalies(
    conn: psycopg.Connection[Any], options: Options, params: dict[str, Any] | None = None
) -> list[Anomaly]:
    """Every anomaly of the ledger in scope, in order of position."""
    params = params or _params(conn, options)
    found = [Anomaly(kind="cap_exceeded", **r) for r in _query(conn, _CAPS, params)]
    found += [Anomaly(kind="invalid_source", **r) for r in _query(conn, _SOURCES, params)]
    found += [Anomaly(**r) for r in _query(conn, _PEOPLE, params)]
    found += [
        Anomaly(kind="redemption_beyond_balance", **r) for r in _query(conn, _REDEMPTIONS, params)
    ]
    found += [Anomaly(kind="rule_not_in_force", **r) for r in _query(conn, _STALE_RULES, params)]
    found += _bursts(_query(conn, _BURSTS, params), options)
    if options.since is not None:
        since = options.since
        found = [a for a in found if a.recorded_at is None or (a.ends_at or a.recorded_at) >= since]
    return sorted(found, key=lambda a: (a.position or 0, a.kind))


def _bursts(rows: list[dict[str, Any]], options: Options) -> list[Anomaly]:
    """One anomaly per burst: the awards of an actor whose windows of `burst_minutes`
    each hold more than `burst_awards` awards, run together while they overlap."""
    window = timedelta(minutes=options.burst_minutes)
    found: list[Anomaly] = []
    burst: list[dict[str, Any]] = []

    def close() -> None:
        if not burst:
            return
        first, last = burst[0], burst[-1]
        peak = max(r["awards"] for r in burst)
        communities = sorted({r["community"] for r in burst})
        found.append(
            Anomaly(
                kind="award_burst",
                community=communities[0] if len(communities) == 1 else None,
                subject=f"actor {first['actor']}",
                position=first["position"],
                recorded_at=first["since"],
                ends_at=last["recorded_at"],
                actor=first["actor"],
                detail=f"{first['actor']} made up to {peak} awards within "
                f"{options.burst_minutes} minutes (more than {options.burst_awards}) between "
                f"{first['since'].isoformat()} and {last['recorded_at'].isoformat()}, in "
                f"{', '.join(communities)}",
            )
        )
        burst.clear()

    for row in rows:
        if burst and (
            row["actor"] != burst[-1]["actor"]
            or row["recorded_at"] - burst[-1]["recorded_at"] > window
        ):
            close()
        burst.append(row)
    close()
    return found


def reconcile(conn: psycopg.Connection[Any], options: Options) -> Report:
    """Every check and every anomaly of the ledger in scope, in one repeatable-read
    snapshot (the projections may go on writing meanwhile)."""
    started = time.perf_counter()
    with one_snapshot(conn, ()):
        params = _params(conn, options)
        report = Report(
            communities=None if options.communities is None else list(options.communities),
            as_of=options.as_of,
            counts=_counts(conn, params),
            findings=check(conn, options, params),
            anomalies=anomalies(conn, options, params),
        )
    report.seconds = time.perf_counter() - started
    return report
