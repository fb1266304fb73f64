"""The SQL that turns a batch of PointsAccount events into balances, ledger and entries.

It runs inside the database, straight from the events table over the batch's position
range (like the audit journal), so no event is decoded in Python. Each statement reads
the batch's range; they run in this order (see `PointsProjection.apply`):

1. `OPEN_ACCOUNTS`: a zero balance row per `Opened` event; only `Opened` names the
   account's member and community, so every later statement finds them here.
2. `APPEND_LEDGER`: one ledger row per entry event, from its stored fields.
3. `FOLD_BALANCES`: each touched account's totals move by the batch's ledger rows; the
   balance is the last row's `balance_after`.
4. `CREATE_ENTRIES`, `DECIDE_ENTRIES`, `REVERSE_ENTRIES`: new entries, then awards
   approved or rejected, then entries reversed (in that order, as in the domain: an
   award is approved before it can be reversed).

Stored values keep the event store's encoding: UUIDs, dates and times as
`{"_type_": ..., "_data_": ...}`, hence the `->>'_data_'` casts.
"""

from __future__ import annotations

from eventsourcing.utils import get_topic
from psycopg import sql

from domain.points import PointsAccount

OPENED_TOPIC = get_topic(PointsAccount.Opened)

# Each entry event's ledger row kind.
ROW_KINDS = {
    PointsAccount.Awarded: "award",
    PointsAccount.AwardApproved: "approval",
    PointsAccount.AwardRejected: "rejection",
    PointsAccount.Deducted: "deduction",
    PointsAccount.Redeemed: "redemption",
    PointsAccount.EntryReversed: "reversal",
    PointsAccount.PointsExpired: "expiry",
}
ENTRY_TOPICS = {get_topic(cls): kind for cls, kind in ROW_KINDS.items()}

# The batch's events (`{batch_events}` below), each one's stored JSON read once into
# typed fields; {events} is the events table. A JSON null becomes SQL NULL.
BATCH_EVENTS = (
    "SELECT e.notification_id AS position, e.originator_id AS account_id, e.topic, f.*"
    " FROM {events} AS e CROSS JOIN LATERAL json_to_record(convert_from(e.state, 'UTF8')::json)"
    ' AS f ("timestamp" json, actor_id text, actor_role text, member_id json, community text,'
    " entry_id json, kind text, points bigint, delta bigint, balance_after bigint,"
    " rule_code text, rule_version int, source jsonb, awarded_by text, approved_by text,"
    ' "on" json, status text, quantity int, note text, clipped_from bigint, item text,'
    " reason text, reverses json, reverses_kind text, before json, lots jsonb)"
    " WHERE e.notification_id > %(after)s AND e.notification_id <= %(last)s"
    " AND e.topic = ANY(%(all_topics)s)"
)

OPEN_ACCOUNTS = (
    "INSERT INTO {points_balances} (account_id, member_id, community, balance, earned,"
    " deducted, redeemed, expired, pending, opened_at, updated_at, last_position)"
    " SELECT account_id, (member_id ->> '_data_')::uuid, community, 0, 0, 0, 0, 0, 0,"
    " (\"timestamp\" ->> '_data_')::timestamptz, (\"timestamp\" ->> '_data_')::timestamptz,"
    " position FROM ({batch_events}) AS e WHERE topic = %(opened)s"
)

APPEND_LEDGER = (
    "INSERT INTO {points_ledger} (position, entry_id, account_id, member_id, community,"
    " recorded_at, entry_kind, delta, balance_after, kind, status, points, rule_code,"
    " rule_version, source, awarded_by, approved_by, quantity, clipped_from, note, item,"
    " reason, reverses, reverses_kind, before_date, lots, on_date, actor_id, actor_role)"
    " SELECT e.position, (e.entry_id ->> '_data_')::uuid, e.account_id, b.member_id,"
    " b.community, (e.\"timestamp\" ->> '_data_')::timestamptz, e.kind, e.delta,"
    " e.balance_after, k.row_kind,"
    " CASE k.row_kind WHEN 'award' THEN e.status WHEN 'rejection' THEN 'rejected'"
    " ELSE 'posted' END,"
    " e.points, e.rule_code, e.rule_version, e.source, e.awarded_by, e.approved_by,"
    " e.quantity, e.clipped_from, e.note, e.item, e.reason,"
    " (e.reverses ->> '_data_')::uuid, e.reverses_kind, (e.before ->> '_data_')::date,"
    " e.lots, (e.\"on\" ->> '_data_')::date, e.actor_id, e.actor_role"
    " FROM ({batch_events}) AS e"
    " JOIN unnest(%(topics)s::text[], %(kinds)s::text[]) AS k (topic, row_kind)"
    " ON k.topic = e.topic"
    " JOIN {points_balances} AS b ON b.account_id = e.account_id"
)

# The batch's ledger rows (`{batch_rows}` below).
BATCH_ROWS = "SELECT * FROM {points_ledger} WHERE position > %(after)s AND position <= %(last)s"

# What a group of ledger rows adds to each total of an account (every total net of
# reversals); reconcile folds the whole ledger with the same sums.
FOLDED_TOTALS = (
    "sum(CASE WHEN kind IN ('award', 'approval') AND status = 'posted' THEN points"
    " WHEN kind = 'reversal' AND reverses_kind = 'award' THEN -points ELSE 0 END) AS earned,"
    " sum(CASE WHEN kind = 'deduction' THEN points"
    " WHEN kind = 'reversal' AND reverses_kind = 'deduction' THEN -points ELSE 0 END)"
    " AS deducted,"
    " sum(CASE WHEN kind = 'redemption' THEN points"
    " WHEN kind = 'reversal' AND reverses_kind = 'redemption' THEN -points ELSE 0 END)"
    " AS redeemed,"
    " sum(CASE WHEN kind = 'expiry' THEN points ELSE 0 END) AS expired,"
    " sum(CASE WHEN kind = 'award' AND status = 'pending' THEN points"
    " WHEN kind IN ('approval', 'rejection') THEN -points ELSE 0 END) AS pending"
)

FOLDED = sql.SQL(FOLDED_TOTALS)
"""`FOLDED_TOTALS`, for `{folded_totals}` in `FOLD_BALANCES`."""
FOLD_BALANCES = (
    "UPDATE {points_balances} AS b SET balance = a.balance,"
    " earned = b.earned + a.earned,"
    " deducted = b.deducted + a.deducted, redeemed = b.redeemed + a.redeemed,"
    " expired = b.expired + a.expired, pending = b.pending + a.pending,"
    " updated_at = a.updated_at, last_position = a.last_position"
    " FROM (SELECT account_id, {folded_totals},"
    " (array_agg(balance_after ORDER BY position DESC))[1] AS balance,"
    " (array_agg(recorded_at ORDER BY position DESC))[1] AS updated_at,"
    " max(position) AS last_position"
    " FROM ({batch_rows}) AS r GROUP BY account_id) AS a"
    " WHERE b.account_id = a.account_id"
)

CREATE_ENTRIES = (
    "INSERT INTO {points_entries} (entry_id, account_id, member_id, community, kind,"
    " status, points, rule_code, rule_version, source, awarded_by, approved_by, quantity,"
    " clipped_from, note, item, reason, reverses, reverses_kind, before_date, lots,"
    " on_date, posted_on, recorded_at, position, last_position)"
    " SELECT entry_id, account_id, member_id, community, entry_kind, status, points,"
    " rule_code, rule_version, source, awarded_by, approved_by, quantity, clipped_from,"
    " note, item, reason, reverses, reverses_kind, before_date, lots, on_date,"
    " CASE WHEN status = 'posted' THEN on_date END, recorded_at, position, position"
    " FROM ({batch_rows}) AS r WHERE kind NOT IN ('approval', 'rejection')"
)

# An award is approved or rejected at most once, and reversed at most once.
DECIDE_ENTRIES = (
    "UPDATE {points_entries} AS e SET status = r.status, approved_by = r.approved_by,"
    " approved_at = CASE WHEN r.kind = 'approval' THEN r.recorded_at END,"
    " posted_on = CASE WHEN r.kind = 'approval' THEN r.on_date END, reason = r.reason,"
    " rejected_at = CASE WHEN r.kind = 'rejection' THEN r.recorded_at END,"
    " last_position = r.position"
    " FROM ({batch_rows}) AS r"
    " WHERE r.kind IN ('approval', 'rejection') AND e.entry_id = r.entry_id"
)

REVERSE_ENTRIES = (
    "UPDATE {points_entries} AS e SET status = 'reversed', reversed_by = r.entry_id,"
    " reversal_reason = r.reason, reversed_at = r.recorded_at, last_position = r.position"
    " FROM ({batch_rows}) AS r WHERE r.kind = 'reversal' AND e.entry_id = r.reverses"
)
