"""Double-entry postings for civility points: every posted movement has two legs.

Accounts, per community `c` (member accounts per member and community):
`community:c:issuance` (where awarded points come from), `member:<member_id>:c` (a
member's holdings), `community:c:redeemed`, `community:c:expired`,
`community:c:deducted`. A leg's `amount` is signed: what flowed into the account (the
source leg carries -points, the destination leg +points), so the amounts of every
posting, and of all postings, sum to zero; the issuance account's balance is minus
what was issued, and per community: issued = held + redeemed + expired + deducted.

Movements: an award once posted (at once, or on approval) moves issuance -> member; a
deduction member -> deducted; a redemption member -> redeemed; an expiry member ->
expired; a reversal moves the points back along the legs of the entry it reverses.
Pending and rejected awards post nothing. Posting rows are derived from the batch's
ledger rows inside the database (`POST_MOVEMENTS`).
"""

from __future__ import annotations

from psycopg import sql

ISSUANCE = "issuance"
MEMBER = "member"
REDEEMED = "redeemed"
EXPIRED = "expired"
DEDUCTED = "deducted"

# (from, to) account types of each movement, keyed by the ledger row's kind; a reversal
# is keyed by the kind of entry it reverses and flows the other way.
FLOWS: dict[str, tuple[str, str]] = {
    "award": (ISSUANCE, MEMBER),
    "approval": (ISSUANCE, MEMBER),
    "deduction": (MEMBER, DEDUCTED),
    "redemption": (MEMBER, REDEEMED),
    "expiry": (MEMBER, EXPIRED),
}
REVERSAL_FLOWS: dict[str, tuple[str, str]] = {
    kind: (to, source) for kind, (source, to) in FLOWS.items() if kind != "approval"
}


def flows_table() -> sql.Composed:
    """FLOWS and REVERSAL_FLOWS as SQL VALUES rows: (kind, reverses_kind, source, target)."""
    rows: list[tuple[str, str | None, str, str]]
    rows = [(kind, None, *flow) for kind, flow in FLOWS.items()]
    rows += [("reversal", kind, *flow) for kind, flow in REVERSAL_FLOWS.items()]
    return sql.SQL(", ").join(
        sql.SQL("({})").format(sql.SQL(", ").join(map(sql.Literal, row))) for row in rows
    )


# Two legs per posted ledger row of the batch (pending and rejected awards post
# nothing); {flows} is `flows_table()`, {batch_rows} the batch's ledger rows. An
# account's name comes from its type, community and member, as the module doc says.
MOVEMENT_LEGS = (
    "SELECT m.position * 10 + g.leg, m.position, g.leg, m.entry_id, m.kind, m.community,"
    " CASE WHEN g.account_type = 'member' THEN 'member:' || m.member_id || ':' || m.community"
    " ELSE 'community:' || m.community || ':' || g.account_type END,"
    " g.account_type, CASE WHEN g.account_type = 'member' THEN m.member_id END,"
    " CASE WHEN g.counter_type = 'member' THEN 'member:' || m.member_id || ':' || m.community"
    " ELSE 'community:' || m.community || ':' || g.counter_type END,"
    " g.sign * m.points, m.recorded_at, m.on_date"
    " FROM (SELECT r.*, f.from_type, f.to_type FROM ({batch_rows}) AS r"
    " JOIN (VALUES {flows}) AS f (kind, reverses_kind, from_type, to_type)"
    " ON f.kind = r.kind AND f.reverses_kind IS NOT DISTINCT FROM r.reverses_kind"
    " WHERE r.status = 'posted') AS m"
    " CROSS JOIN LATERAL (VALUES (1, m.from_type, m.to_type, -1),"
    " (2, m.to_type, m.from_type, 1)) AS g (leg, account_type, counter_type, sign)"
)
POST_MOVEMENTS = (
    "INSERT INTO {points_postings} (posting_id, position, leg, entry_id, kind, community,"
    " account, account_type, member_id, counter_account, amount, recorded_at, on_date) "
    + MOVEMENT_LEGS
)
"""Writes `MOVEMENT_LEGS`, the legs the batch's ledger rows make (reconcile recomputes
them from the whole ledger and compares)."""
