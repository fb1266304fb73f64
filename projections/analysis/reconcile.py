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
from psycopg import sql
from psycopg.rows import dict_row

from projections.analysis.reconcile_anomalies import (
    ANOMALIES,
    BURSTS,
    CAPS,
    DEFAULT_BURST_AWARDS,
    DEFAULT_BURST_MINUTES,
    PEOPLE,
    REDEMPTIONS,
    SOURCES,
    STALE_RULES,
)
from projections.analysis.reconcile_checks import (
    CHECKS,
    LEDGER,
    POSTINGS,
    SOURCE_AGGREGATES,
    TRIGGER_SOURCES,
)
from projections.store.events import max_position
from projections.store.snapshot import one_snapshot
from projections.views.points_ledger import ENTRY_TOPICS

__all__ = [
    "ANOMALIES",
    "CHECKS",
    "DEFAULT_BURST_AWARDS",
    "DEFAULT_BURST_MINUTES",
    "Anomaly",
    "Finding",
    "Options",
    "Report",
    "anomalies",
    "check",
    "reconcile",
]


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
    found = [Anomaly(kind="cap_exceeded", **r) for r in _query(conn, CAPS, params)]
    found += [Anomaly(kind="invalid_source", **r) for r in _query(conn, SOURCES, params)]
    found += [Anomaly(**r) for r in _query(conn, PEOPLE, params)]
    found += [
        Anomaly(kind="redemption_beyond_balance", **r) for r in _query(conn, REDEMPTIONS, params)
    ]
    found += [Anomaly(kind="rule_not_in_force", **r) for r in _query(conn, STALE_RULES, params)]
    found += _bursts(_query(conn, BURSTS, params), options)
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
