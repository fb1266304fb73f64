"""The anomaly queries of `gridledger reconcile`: one statement each, answering what an
evaluator should look at (see `reconcile`)."""

from __future__ import annotations

from psycopg import sql

from projections.analysis.reconcile_checks import LEDGER, RULE_VERSIONS, UUID_PATTERN, entry_subject
from projections.store.events import EVENTS

DEFAULT_BURST_AWARDS = 30
DEFAULT_BURST_MINUTES = 10
"""A burst: this many awards by one actor within this many minutes."""

# --- anomalies: each query answers (community, subject, position, recorded_at, actor,
# detail) ---

_CAP_PERIODS = sql.SQL("(VALUES ('per_day', 10), ('per_month', 7), ('per_year', 4))")
CAPS = sql.SQL(
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
    entry=entry_subject("l"),
)

SOURCES = sql.SQL("""
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
    entry=entry_subject("l"),
    uuid=sql.Literal(UUID_PATTERN),
    ledger=LEDGER,
    events=EVENTS,
)

PEOPLE = sql.SQL(
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
    entry=entry_subject("l"),
    ledger=LEDGER,
)

REDEMPTIONS = sql.SQL(
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
    entry=entry_subject("x"),
    ledger=LEDGER,
)

STALE_RULES = sql.SQL(
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
    entry=entry_subject("l"),
    ledger=LEDGER,
    rule_versions=RULE_VERSIONS,
)

BURSTS = sql.SQL(
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
