"""The trial balance of the civility points (积分试算平衡表), from the double-entry postings.

Every posted movement has two legs in `points_postings` (see
`projections.views.points_postings`): the leg into an account is its *debit*, the
leg out of an account its *credit*. An account's balance is debits - credits, so a
member account holds a debit balance (what the member holds), the issuance account a
credit balance (minus what was issued), and the balances of all accounts sum to zero:
total debits = total credits.

`as_of=T` counts only the postings recorded at or before T (`recorded_at <= T`), so a
trial balance as of a past moment is reproduced exactly however much was recorded
since. The scope is a set of communities (None: every community).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from projections.analysis.flat_table import Column, Kind
from projections.views.points_postings import DEDUCTED, EXPIRED, ISSUANCE, MEMBER, REDEEMED

ACCOUNT_TYPES = (ISSUANCE, MEMBER, REDEEMED, EXPIRED, DEDUCTED)
"""The order in which a community's accounts are listed."""
Detail = Literal["account", "type"]
"""`account`: every account; `type`: the member accounts of a community on one line."""


@dataclass(frozen=True)
class AccountBalance:
    community: str
    account: str
    account_type: str
    member_id: UUID | None
    debits: int
    credits: int
    balance: int
    accounts: int = 1
    """How many accounts the line sums (several for a community's members, by type)."""


@dataclass(frozen=True)
class CommunityTotals:
    """One community's flows: issued = held + redeemed + expired + deducted."""

    community: str
    issued: int
    held: int
    redeemed: int
    expired: int
    deducted: int

    @property
    def balanced(self) -> bool:
        return self.issued == self.held + self.redeemed + self.expired + self.deducted


@dataclass(frozen=True)
class TrialBalance:
    as_of: datetime | None
    detail: Detail
    accounts: list[AccountBalance]
    communities: list[CommunityTotals] = field(default_factory=list)
    postings: int = 0
    last_position: int = 0
    """The greatest position of the postings counted (0: none)."""

    @property
    def debits(self) -> int:
        return sum(a.debits for a in self.accounts)

    @property
    def credits(self) -> int:
        return sum(a.credits for a in self.accounts)

    @property
    def balance(self) -> int:
        return sum(a.balance for a in self.accounts)


_TYPE_ORDER = "array_position(%(types)s::text[], account_type)"
_BY_ACCOUNT = sql.SQL(
    "SELECT community, account, account_type, member_id, 1 AS accounts,"
    " coalesce(sum(amount) FILTER (WHERE amount > 0), 0)::bigint AS debits,"
    " coalesce(-sum(amount) FILTER (WHERE amount < 0), 0)::bigint AS credits,"
    " sum(amount)::bigint AS balance, count(*) AS postings, max(position) AS last_position"
    " FROM points_postings WHERE {where}"
    " GROUP BY community, account, account_type, member_id"
)
_BY_TYPE = sql.SQL(
    "SELECT community, CASE WHEN account_type = 'member' THEN 'community:' || community"
    " || ':members' ELSE min(account) END AS account, account_type, NULL::uuid AS member_id,"
    " count(DISTINCT account) AS accounts, sum(debits)::bigint AS debits,"
    " sum(credits)::bigint AS credits, sum(balance)::bigint AS balance,"
    " sum(postings)::bigint AS postings, max(last_position) AS last_position"
    " FROM ({by_account}) AS a GROUP BY community, account_type"
)


def communities_in(conn: psycopg.Connection[Any], code: str) -> list[str] | None:
    """The communities in the subtree of jurisdiction `code` (None: no such jurisdiction;
    empty: a grid, which holds no accounts)."""
    known = conn.execute("SELECT 1 FROM jurisdictions WHERE code = %s", (code,)).fetchone()
    if known is None:
        return None
    found = conn.execute(
        "SELECT code FROM jurisdictions WHERE kind = 'community' AND path @> ARRAY[%s]::text[]"
        " ORDER BY code",
        (code,),
    ).fetchall()
    return [r[0] for r in found]


def trial_balance(
    conn: psycopg.Connection[Any],
    communities: Sequence[str] | None = None,
    as_of: datetime | None = None,
    detail: Detail = "account",
) -> TrialBalance:
    """Every account of `communities` (None: all) with its debits, credits and balance,
    counting the postings recorded at or before `as_of` (None: all)."""
    where: list[sql.Composable] = [sql.SQL("TRUE")]
    params: dict[str, Any] = {"types": list(ACCOUNT_TYPES)}
    if communities is not None:
        where.append(sql.SQL("community = ANY(%(communities)s)"))
        params["communities"] = list(communities)
    if as_of is not None:
        where.append(sql.SQL("recorded_at <= %(as_of)s"))
        params["as_of"] = as_of
    grouped = _BY_ACCOUNT.format(where=sql.SQL(" AND ").join(where))
    if detail == "type":
        grouped = _BY_TYPE.format(by_account=grouped)
    query = sql.SQL("SELECT * FROM ({}) AS g ORDER BY community, {}, account").format(
        grouped, sql.SQL(_TYPE_ORDER)
    )
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(query, params).fetchall()
    accounts = [
        AccountBalance(**{k: v for k, v in r.items() if k not in ("postings", "last_position")})
        for r in found
    ]
    return TrialBalance(
        as_of=as_of,
        detail=detail,
        accounts=accounts,
        communities=community_totals(accounts),
        postings=sum(r["postings"] for r in found),
        last_position=max((r["last_position"] for r in found), default=0),
    )


def community_totals(accounts: Sequence[AccountBalance]) -> list[CommunityTotals]:
    """Each community's issued, held, redeemed, expired and deducted points."""
    sums: dict[str, dict[str, int]] = {}
    for a in accounts:
        totals = sums.setdefault(a.community, dict.fromkeys(ACCOUNT_TYPES, 0))
        totals[a.account_type] += a.balance
    return [
        CommunityTotals(
            community=community,
            issued=-t[ISSUANCE],
            held=t[MEMBER],
            redeemed=t[REDEEMED],
            expired=t[EXPIRED],
            deducted=t[DEDUCTED],
        )
        for community, t in sums.items()
    ]


TRIAL_BALANCE_COLUMNS = (
    Column("community", "Community", "社区"),
    Column("account", "Account", "账户"),
    Column("account_type", "Account type", "账户类型"),
    Column("member_id", "Member", "成员"),
    Column("accounts", "Accounts", "账户数", Kind.INT),
    Column("debits", "Debit", "借方", Kind.INT),
    Column("credits", "Credit", "贷方", Kind.INT),
    Column("balance", "Balance", "余额", Kind.INT),
)
TOTAL_LABEL = "TOTAL / 合计"


def trial_balance_table(tb: TrialBalance) -> tuple[tuple[Column, ...], list[dict[str, Any]]]:
    """The trial balance as a flat table (for csv and xlsx): one row per account, then a
    totals row (account `TOTAL / 合计`) whose balance is zero."""
    rows: list[dict[str, Any]] = [
        {c.key: getattr(a, c.key) for c in TRIAL_BALANCE_COLUMNS} for a in tb.accounts
    ]
    rows.append(
        {
            "community": None,
            "account": TOTAL_LABEL,
            "account_type": None,
            "member_id": None,
            "accounts": sum(a.accounts for a in tb.accounts),
            "debits": tb.debits,
            "credits": tb.credits,
            "balance": tb.balance,
        }
    )
    return TRIAL_BALANCE_COLUMNS, rows
