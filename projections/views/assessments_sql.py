"""The SQL that folds a batch of events into the assessments tables, inside the database.

No event is decoded in Python, and a batch costs a handful of statements however many
events it holds. `STAGE_EVENTS` reads the batch's position range of the events table
once, parsing each handled event's stored JSON once into typed columns of a temporary
table (`assessment_batch`); the statements after it read that table, in this order
(see `Assessments.apply`):

1. `DEFINE_PATHS`, `SCHEDULE_ACTIVITIES`: the tree and each activity's community, which
   the later statements place facts with.
2. `FOLD_TICKETS`: the versioned ticket rows (below).
3. `MAKE_PLEDGES`, `END_PLEDGES`, `LOG_SESSIONS`, `VERIFY_SESSIONS`, `CHECK_IN`,
   `CHECK_OUT`: pledges, their sessions and attendance. A row written in the batch
   already holds the batch's later events about it; only rows of earlier batches are
   updated (an update is an index probe each).

`FOLD_TICKETS` keeps one row per ticket and command (events of one command share a
timestamp): each row is the ticket's state after the command's last event. Within the
batch, each event's state is the stored current row (the fold so far, if the ticket
was reported before the batch) plus running window aggregates over the ticket's
events up to it, in version order:

- "the last event of these kinds decides" columns (status, level, resolved_at,
  satisfaction) are the max of `version (zero-padded) || value` and drop the prefix;
  a reopening's value is '-' (it clears resolved_at and satisfaction);
- first_responded_at is the min of the same over responses;
- counts and flags add to the stored ones;
- handlers and esc_levels append, in order of first appearance, the values not yet
  in the stored arrays.

The stored current row is closed (`valid_to` = the batch's first command time) unless
that first command continues it (a page ended among a command's events): then the
new row replaces it (same key). So the rows never depend on how the log was paged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import LiteralString

from psycopg import sql

from domain.pledge import Pledge
from domain.ticket import Ticket

FACT_EVENTS = (
    Ticket.Reported, Ticket.Accepted, Ticket.Rejected, Ticket.Dispatched, Ticket.Responded,
    Ticket.Escalated, Ticket.Resolved, Ticket.Rated, Ticket.Closed, Ticket.Reopened,
    Ticket.ResolutionOverdue,
)  # fmt: skip
"""The ticket events that change a scorecard fact (supervision, visits and a missed
response, which `first_responded_at > respond_due_at` already tells, change none)."""

PLEDGE_OUTCOMES = {
    Pledge.Fulfilled: "fulfilled",
    Pledge.Lapsed: "lapsed",
    Pledge.Withdrawn: "withdrawn",
}

"""This connection's temporary table of the batch's events, each parsed once."""

CREATE_STAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS assessment_batch ("
    " position bigint NOT NULL, id uuid NOT NULL, seq int NOT NULL, etype text NOT NULL,"
    " ts timestamptz NOT NULL, actor_id text, grid text, reported_at timestamptz,"
    " respond_due_at timestamptz, level text, to_level text, assignee text,"
    " at timestamptz, satisfaction text, code text, kind text, path text[],"
    " community text, member_id uuid, hours numeric, session_no int, jurisdiction text,"
    " version int, effective_from timestamptz, terms jsonb)"
)

# The batch's events of the topics `%(topics)s` into the stage, in one pass over the
# range, each one's stored JSON parsed once (transcoded values are
# `{"_type_": ..., "_data_": ...}`, hence the `->> '_data_'` casts); `etype` is the
# topic's `Class.Event` part.
STAGE_EVENTS = (
    "INSERT INTO assessment_batch SELECT e.notification_id, e.originator_id,"
    " e.originator_version, split_part(e.topic, ':', 2),"
    " (f.\"timestamp\" ->> '_data_')::timestamptz,"
    " f.actor_id, f.grid, (f.reported_at ->> '_data_')::timestamptz,"
    " (f.respond_due_at ->> '_data_')::timestamptz, f.level, f.to_level, f.assignee,"
    " (f.at ->> '_data_')::timestamptz, f.satisfaction, f.code, f.kind,"
    " ARRAY(SELECT jsonb_array_elements_text(f.path)), f.community,"
    " (f.member_id ->> '_data_')::uuid, (f.hours ->> '_data_')::numeric, f.session_no,"
    " f.jurisdiction, f.version, (f.effective_from ->> '_data_')::timestamptz, f.terms"
    " FROM {events} AS e CROSS JOIN LATERAL"
    " jsonb_to_record(convert_from(e.state, 'UTF8')::jsonb) AS f (\"timestamp\" jsonb,"
    " actor_id text, grid text, reported_at jsonb, respond_due_at jsonb, level text,"
    " to_level text, assignee text, at jsonb, satisfaction text, code text, kind text,"
    " path jsonb, community text, member_id jsonb, hours jsonb, session_no int,"
    " jurisdiction text, version int, effective_from jsonb, terms jsonb)"
    " WHERE e.notification_id > %(after)s AND e.notification_id <= %(last)s"
    " AND e.topic = ANY(%(topics)s)"
)

COUNT_STAGE = "SELECT etype, count(*) FROM assessment_batch GROUP BY etype"
CLEAR_STAGE = "TRUNCATE assessment_batch"

DEFINE_PATHS = (
    "INSERT INTO {assessment_paths} (code, kind, path) SELECT code, kind, path"
    " FROM assessment_batch WHERE etype = 'Jurisdiction.Defined'"
)

SCHEDULE_ACTIVITIES = (
    "INSERT INTO {assessment_activities} (activity_id, community) SELECT id, community"
    " FROM assessment_batch WHERE etype = 'Activity.Scheduled'"
)


def _listed(names: Sequence[str]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def _latest(etype: str, key: Sequence[str], columns: Sequence[str]) -> sql.Composable:
    """The batch's last event of `etype` per `key` (its `columns`)."""
    return sql.SQL(
        "(SELECT DISTINCT ON ({key}) {key}, {columns} FROM assessment_batch"
        " WHERE etype = {etype} ORDER BY {key}, position DESC)"
    ).format(key=_listed(key), columns=_listed(columns), etype=sql.Literal(etype))


# A fact's own row takes the batch's later events about it (a check-out, a session's
# verification, a pledge's outcome) before it is written; only facts written by an
# earlier batch are updated. A missing path leaves `path` NULL, which the NOT NULL
# column refuses (the fact names a jurisdiction never defined): the batch fails
# rather than drop the fact.
CHECK_IN = (
    "INSERT INTO {assessment_attendance} (activity_id, member_id, path, checked_in_at,"
    " in_recorded_at, hours, out_recorded_at)"
    " SELECT e.id, e.member_id, p.path, e.at, e.ts, o.hours, o.ts FROM assessment_batch AS e"
    " LEFT JOIN {assessment_activities} AS a ON a.activity_id = e.id"
    " LEFT JOIN {assessment_paths} AS p ON p.code = a.community"
    " LEFT JOIN {checked_out} AS o"
    " ON o.id = e.id AND o.member_id = e.member_id"
    " WHERE e.etype = 'Activity.CheckedIn'"
)


def _only_later(
    first: str, later: str, key: Sequence[str], columns: Sequence[str]
) -> sql.Composable:
    """Per `key`, the `columns` of the batch's last `later` event, where the batch holds
    no `first` event (the row was written by an earlier batch)."""
    last = sql.SQL(", ").join(
        sql.SQL("(array_agg({c} ORDER BY position DESC))[1] AS {c}").format(c=sql.Identifier(c))
        for c in columns
    )
    return sql.SQL(
        "(SELECT {key}, {last} FROM assessment_batch WHERE etype IN ({first}, {later})"
        " GROUP BY {key} HAVING bool_and(etype = {later}))"
    ).format(key=_listed(key), last=last, first=sql.Literal(first), later=sql.Literal(later))


CHECK_OUT = (
    "UPDATE {assessment_attendance} AS t SET hours = o.hours, out_recorded_at = o.ts"
    " FROM {checked_out_later}"
    " AS o WHERE t.activity_id = o.id AND t.member_id = o.member_id"
)

_OUTCOMES = sql.SQL(
    "(SELECT DISTINCT ON (id) id, ts, split_part(etype, '.', 2) AS outcome"
    " FROM assessment_batch WHERE etype = ANY(%(outcomes)s) ORDER BY id, position DESC)"
)

MAKE_PLEDGES = (
    "INSERT INTO {assessment_pledges} (pledge_id, member_id, path, made_at, outcome,"
    " outcome_at)"
    " SELECT e.id, e.member_id, p.path, e.ts, lower(o.outcome), o.ts"
    " FROM assessment_batch AS e LEFT JOIN {assessment_paths} AS p ON p.code = e.community"
    " LEFT JOIN {outcomes} AS o ON o.id = e.id WHERE e.etype = 'Pledge.Pledged'"
)

END_PLEDGES = (
    "UPDATE {assessment_pledges} AS t SET outcome = lower(split_part(o.etype, '.', 2)),"
    " outcome_at = o.ts FROM (SELECT id, (array_agg(etype ORDER BY position DESC))[1] AS etype,"
    " (array_agg(ts ORDER BY position DESC))[1] AS ts FROM assessment_batch"
    " WHERE etype = ANY(%(outcomes)s) OR etype = 'Pledge.Pledged'"
    " GROUP BY id HAVING bool_and(etype <> 'Pledge.Pledged')) AS o WHERE t.pledge_id = o.id"
)

LOG_SESSIONS = (
    "INSERT INTO {assessment_sessions} (pledge_id, session_no, path, hours, verified_at)"
    " SELECT e.id, e.session_no, p.path, e.hours, v.ts"
    " FROM assessment_batch AS e LEFT JOIN {assessment_pledges} AS p ON p.pledge_id = e.id"
    " LEFT JOIN {verified} AS v"
    " ON v.id = e.id AND v.session_no = e.session_no WHERE e.etype = 'Pledge.SessionLogged'"
)

VERIFY_SESSIONS = (
    "UPDATE {assessment_sessions} AS t SET verified_at = v.ts FROM"
    " {verified_later}"
    " AS v WHERE t.pledge_id = v.id AND t.session_no = v.session_no"
)

PUBLISHED_POLICIES = (
    "SELECT jurisdiction, version, effective_from, terms FROM assessment_batch"
    " WHERE etype = 'AssessmentPolicy.Published' ORDER BY position"
)

# The value each kind sets ('-' clears), or NULL for a kind that leaves it alone.
_STATUS = sql.SQL(
    "CASE etype WHEN 'Reported' THEN 'reported' WHEN 'Accepted' THEN 'accepted'"
    " WHEN 'Rejected' THEN 'rejected' WHEN 'Dispatched' THEN 'dispatched'"
    " WHEN 'Responded' THEN 'responded' WHEN 'Escalated' THEN 'accepted'"
    " WHEN 'Resolved' THEN 'resolved' WHEN 'Closed' THEN 'closed'"
    " WHEN 'Reopened' THEN 'dispatched' END"
)
_LEVEL = sql.SQL("CASE etype WHEN 'Dispatched' THEN level WHEN 'Escalated' THEN to_level END")
_RESOLVED = sql.SQL("CASE etype WHEN 'Resolved' THEN '+' || at WHEN 'Reopened' THEN '-' END")
_RATED = sql.SQL("CASE etype WHEN 'Rated' THEN '+' || satisfaction WHEN 'Reopened' THEN '-' END")
_HANDLER = sql.SQL(
    "nullif(CASE etype WHEN 'Dispatched' THEN assignee"
    " WHEN 'Responded' THEN actor_id WHEN 'Resolved' THEN actor_id END, '')"
)


def _last(value: str) -> sql.Composable:
    """The value of the latest event (up to this one) that sets it ('-' if cleared)."""
    return sql.SQL('substr(max((m.v || {}) COLLATE "C") OVER w, 11)').format(
        sql.Identifier("m", value)
    )


def _set_or_cleared(value: str, stored: str, cast: LiteralString) -> sql.Composable:
    """The latest value set, NULL if the latest event cleared it, else the stored one."""
    return sql.SQL(
        "CASE WHEN {last} IS NULL THEN {stored}"
        " WHEN {last} = '-' THEN NULL ELSE substr({last}, 2)::{cast} END"
    ).format(last=_last(value), stored=sql.Identifier("b", stored), cast=sql.SQL(cast))


def _appended(column: str, stored: str) -> sql.Composable:
    """The stored array followed by the values first seen (up to this event) that it
    does not hold yet, in order of first appearance."""
    return sql.SQL(
        "coalesce({stored}, ARRAY[]::text[]) || coalesce(array_agg({column})"
        " FILTER (WHERE m.first AND {column} IS NOT NULL"
        " AND NOT coalesce({column} = ANY({stored}), false))"
        " OVER w, ARRAY[]::text[])"
    ).format(stored=sql.Identifier("b", stored), column=sql.Identifier("m", column))


FOLD_TICKETS = (
    "WITH ev AS MATERIALIZED ("
    "  SELECT id AS ticket_id, seq AS version, etype AS kind, ts, lpad(seq::text, 10, '0') AS v,"
    " grid, reported_at, respond_due_at, {status_case} AS status, {level_case} AS level,"
    "  CASE etype WHEN 'Escalated' THEN to_level END AS esc,"
    "  CASE etype WHEN 'Responded' THEN at END AS responded,"
    " {resolved_case} AS resolved, {rated_case} AS rated, {handler_case} AS handler"
    # the batch's ticket events straight from the events table (not staged); `at` stays
    # ISO text (comparable within one time zone) until a chosen value is cast
    "  FROM (SELECT e.originator_version AS seq, e.originator_id AS id,"
    "  split_part(e.topic, '.', -1) AS etype, (f.\"timestamp\" ->> '_data_')::timestamptz AS ts,"
    "  f.grid, (f.reported_at ->> '_data_')::timestamptz AS reported_at,"
    "  (f.respond_due_at ->> '_data_')::timestamptz AS respond_due_at, f.level, f.to_level,"
    "  f.at ->> '_data_' AS at, f.satisfaction, f.assignee, f.actor_id FROM {events} AS e"
    "  CROSS JOIN LATERAL jsonb_to_record(convert_from(e.state, 'UTF8')::jsonb) AS f"
    '  ("timestamp" jsonb, actor_id text, grid text, reported_at jsonb, respond_due_at jsonb,'
    "  level text, to_level text, assignee text, at jsonb, satisfaction text)"
    "  WHERE e.notification_id > %(after)s AND e.notification_id <= %(last)s"
    "  AND e.topic = ANY(%(tickets)s)) AS e),"
    # the event where each handler or escalation level first appears in the batch
    " firsts AS (SELECT ticket_id, min(version) AS version FROM ev"
    "  WHERE handler IS NOT NULL OR esc IS NOT NULL"
    "  GROUP BY ticket_id, handler, esc),"
    # the stored current row (the latest) of each ticket reported before the batch: one
    # probe of the primary key each
    " base AS ("
    "  SELECT b.* FROM (SELECT DISTINCT ticket_id FROM ev) AS d CROSS JOIN LATERAL"
    "  (SELECT * FROM {assessment_tickets} AS t WHERE t.ticket_id = d.ticket_id"
    "  ORDER BY t.valid_from DESC LIMIT 1) AS b),"
    " folded AS ("
    "  SELECT m.ticket_id, m.version, m.ts AS valid_from,"
    "  lead(m.ts) OVER w AS valid_to, first_value(m.ts) OVER w AS first_ts,"
    "  b.valid_from AS stored_from,"
    "  coalesce(b.grid_path, first_value(p.path) OVER w) AS grid_path,"
    "  coalesce(b.reported_at, first_value(m.reported_at) OVER w) AS reported_at,"
    "  coalesce(b.respond_due_at, first_value(m.respond_due_at) OVER w) AS respond_due_at,"
    " coalesce({last_status}, b.status) AS status,"
    "  coalesce(b.dispatched, false) OR bool_or(m.kind = 'Dispatched') OVER w AS dispatched,"
    "  coalesce(b.first_responded_at,"
    '  substr(min((m.v || m.responded) COLLATE "C") OVER w, 11)::timestamptz)'
    "  AS first_responded_at,"
    " coalesce({last_level}, b.level) AS level,"
    " {esc_levels} AS esc_levels,"
    " {resolved_at} AS resolved_at,"
    "  coalesce(b.ever_resolved, false) OR bool_or(m.kind = 'Resolved') OVER w"
    "  AS ever_resolved,"
    "  coalesce(b.late_resolutions, 0)"
    "  + count(*) FILTER (WHERE m.kind = 'ResolutionOverdue') OVER w AS late_resolutions,"
    "  coalesce(b.reopen_count, 0) + count(*) FILTER (WHERE m.kind = 'Reopened') OVER w"
    "  AS reopen_count,"
    " {satisfaction} AS satisfaction,"
    " {handlers} AS handlers"
    "  FROM (SELECT ev.*, f.version IS NOT NULL AS first FROM ev LEFT JOIN firsts AS f"
    "  ON f.ticket_id = ev.ticket_id AND f.version = ev.version) AS m"
    "  LEFT JOIN base AS b ON b.ticket_id = m.ticket_id"
    "  LEFT JOIN {assessment_paths} AS p ON p.code = m.grid"
    "  WINDOW w AS (PARTITION BY m.ticket_id ORDER BY m.version ROWS UNBOUNDED PRECEDING)),"
    # one row per command: its last event (the next one, if any, is another command's)
    " cmds AS (SELECT * FROM folded WHERE valid_to IS DISTINCT FROM valid_from),"
    # the stored row ends where the batch's first command begins, or that command
    # continues it (a page ended among its events) and its row replaces it
    " closed AS ("
    "  UPDATE {assessment_tickets} AS t SET valid_to = c.first_ts"
    "  FROM (SELECT DISTINCT ticket_id, stored_from, first_ts FROM cmds"
    "  WHERE stored_from <> first_ts) AS c"
    "  WHERE t.ticket_id = c.ticket_id AND t.valid_from = c.stored_from),"
    " replaced AS ("
    "  UPDATE {assessment_tickets} AS t SET ({columns}) = (SELECT {columns_c})"
    "  FROM cmds AS c WHERE c.valid_from = c.stored_from"
    "  AND t.ticket_id = c.ticket_id AND t.valid_from = c.stored_from)"
    " INSERT INTO {assessment_tickets} ({columns})"
    " SELECT {columns} FROM cmds WHERE valid_from IS DISTINCT FROM stored_from"
)

FRAGMENTS: dict[str, sql.Composable] = {
    "checked_out": _latest("Activity.CheckedOut", ["id", "member_id"], ["hours", "ts"]),
    "checked_out_later": _only_later(
        "Activity.CheckedIn", "Activity.CheckedOut", ["id", "member_id"], ["hours", "ts"]
    ),
    "outcomes": _OUTCOMES,
    "verified": _latest("Pledge.SessionVerified", ["id", "session_no"], ["ts"]),
    "verified_later": _only_later(
        "Pledge.SessionLogged", "Pledge.SessionVerified", ["id", "session_no"], ["ts"]
    ),
    "status_case": _STATUS,
    "level_case": _LEVEL,
    "resolved_case": _RESOLVED,
    "rated_case": _RATED,
    "handler_case": _HANDLER,
    "last_status": _last("status"),
    "last_level": _last("level"),
    "esc_levels": _appended("esc", "esc_levels"),
    "resolved_at": _set_or_cleared("resolved", "resolved_at", "timestamptz"),
    "satisfaction": _set_or_cleared("rated", "satisfaction", "text"),
    "handlers": _appended("handler", "handlers"),
}
"""The parts the statements above name in braces (beside the tables, the events table
and the ticket columns): `Assessments.apply` fills them in with `Batch.sql`."""
