"""Civility points (文明积分): rulebooks, awards and their approval, deductions,
redemptions, reversals, expiries; accounts, ledgers and the leaderboard."""

from __future__ import annotations

from typing import Annotated, Any, LiteralString
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from psycopg import sql

from api.http.actions import act, add_action
from api.http.deps import CallerDep, PoolDep, answering
from api.http.exports import (
    FILE_RESPONSES,
    Export,
    Format,
    FormatQuery,
    file_name,
    file_response,
    period_text,
    request_query,
)
from api.http.problems import COMMAND, QUERY, NotCaughtUpError
from api.http.reads import (
    Connection,
    Cursor,
    Limit,
    Page,
    conditions,
    first,
    found,
    matching,
    one,
    reader,
    rows,
    stream,
)
from api.http.routing import OneHopRoute
from api.http.schemas.common import Code, Instant, PageOf, created
from api.http.schemas.points import (
    LEADERBOARD_COLUMNS,
    LEDGER_COLUMNS,
    AccountOut,
    AwardIn,
    DeductionIn,
    EntryAnswer,
    EntryOut,
    ExpiryAnswer,
    ExpiryIn,
    LeaderboardRow,
    LedgerEntry,
    RedemptionIn,
    RejectAwardIn,
    ReversalIn,
    RuleAnswer,
    RulebookOut,
    RuleCode,
    RuleIn,
    RuleOut,
)
from api.http.visibility import Filter, Viewer, ViewerDep, in_subtree
from domain.application import Governance
from domain.commands.base import Meta
from domain.jurisdiction import Kind
from projections.engine.tracking import wait_for
from projections.store.events import max_position

router = APIRouter(prefix="/v1", tags=["points"], route_class=OneHopRoute)

Rules = Annotated[Connection, reader("points_rules", "jurisdictions")]
Accounts = Annotated[Connection, reader("points", "members", "rosters", "jurisdictions")]
Board = Annotated[Connection, reader("points", "members", "jurisdictions")]
TOTALS = ("balance", "earned", "deducted", "redeemed", "expired", "pending")
CATCH_UP_SECONDS = 5.0


@router.put(
    "/jurisdictions/{community}/rulebook/rules/{rule_code}", responses=COMMAND, name="put_rule"
)
def put_rule(
    community: Annotated[Code, Path()],
    rule_code: Annotated[RuleCode, Path()],
    body: RuleIn,
    caller: CallerDep,
) -> RuleAnswer:
    """Publish a new version of a community's rule, effective now (identical: nothing new)."""
    fields = body.model_dump()
    result = caller.run("put_rule", community, rule_code, place=community, **fields)
    return RuleAnswer.of(result)


@router.get("/jurisdictions/{community}/rulebook", responses=QUERY)
def get_rulebook(
    community: Annotated[Code, Path()],
    conn: Rules,
    as_of: Annotated[Instant | None, Query(description="The rules in force then.")] = None,
) -> RulebookOut:
    """The community's rules in force now, or at `as_of`, each with its version."""
    found(
        one(conn, "SELECT code FROM jurisdictions WHERE code = %s", community),
        "Jurisdiction",
        community,
    )
    if as_of is None:
        query = "SELECT * FROM points_rules WHERE community = %s AND is_current AND in_force"
        params: list[Any] = [community]
    else:
        query = (
            "SELECT * FROM points_rules WHERE community = %s AND in_force AND effective_from <= %s"
            " AND (effective_until IS NULL OR effective_until > %s)"
        )
        params = [community, as_of, as_of]
    found_rules = rows(conn, query + " ORDER BY rule_code", *params)
    return RulebookOut(community=community, as_of=as_of, rules=[RuleOut(**r) for r in found_rules])


def _award_fields(body: AwardIn | DeductionIn) -> dict[str, Any]:
    fields = body.model_dump(exclude={"source"})
    return {**fields, "source_kind": body.source.kind, "source_id": body.source.id}


def _entry_created(response: Response, result: Any) -> EntryAnswer:
    return created(response, result, f"/v1/points/entries/{result.extra['entry_id']}", EntryAnswer)


@router.post("/points/awards", status_code=201, responses=COMMAND, name="award_points")
def award(body: AwardIn, caller: CallerDep, response: Response) -> EntryAnswer:
    """Award a manual rule to a member for a source; pending if the rule needs approval."""
    result = caller.run("award_points", place=body.community, **_award_fields(body))
    return _entry_created(response, result)


@router.post("/points/deductions", status_code=201, responses=COMMAND, name="deduct_points")
def deduct(body: DeductionIn, caller: CallerDep, response: Response) -> EntryAnswer:
    """Deduct a deduction rule's points for an uncivil act (扣分); may go below zero."""
    result = caller.run("deduct_points", place=body.community, **_award_fields(body))
    return _entry_created(response, result)


@router.post("/points/redemptions", status_code=201, responses=COMMAND, name="redeem_points")
def redeem(body: RedemptionIn, caller: CallerDep, response: Response) -> EntryAnswer:
    """Spend points at the points supermarket (积分超市), never beyond the balance."""
    result = caller.run(
        "redeem_points", place=body.community, owner=body.member_id, **body.model_dump()
    )
    return _entry_created(response, result)


def _entry(governance: Governance, entry_id: UUID) -> tuple[str, object]:
    entry = governance.entry(entry_id)
    return entry.community, entry.member_id


@router.post("/points/reversals", status_code=201, responses=COMMAND, name="reverse_entry")
def reverse(body: ReversalIn, caller: CallerDep, response: Response) -> EntryAnswer:
    """Reverse a posted award, deduction or redemption, once."""
    result = act(caller, _entry, "reverse_entry", body.entry_id, reason=body.reason)
    return _entry_created(response, result)


add_action(
    router,
    "points/awards",
    "approve",
    "approve_award",
    None,
    _entry,
    "Post a pending award (not by its awarder, nor the member).",
    EntryAnswer,
)
add_action(
    router,
    "points/awards",
    "reject",
    "reject_award",
    RejectAwardIn,
    _entry,
    "Turn down a pending award, saying why.",
    EntryAnswer,
)


@router.post("/points/expiries", responses=COMMAND, name="expire_points")
def expire(body: ExpiryIn, caller: CallerDep, pool: PoolDep) -> ExpiryAnswer:
    """Expire, in one transaction, the unconsumed points of every account of the
    community earned before `before` (清零). Running it again expires nothing more."""
    caller.allow("expire_points", place=body.community)
    caller.governance.require_kind(body.community, Kind.COMMUNITY)  # else 404 or 409
    conn, head = answering(pool, max_position)
    try:
        if not wait_for(conn, ["points"], head, CATCH_UP_SECONDS):
            raise NotCaughtUpError("the points accounts are not caught up; try again")
        members = [
            r[0]
            for r in conn.execute(
                "SELECT member_id FROM points_balances WHERE community = %s ORDER BY member_id",
                (body.community,),
            ).fetchall()
        ]
    finally:
        pool.putconn(conn)
    governance = caller.governance
    meta = Meta(actor=caller.principal.actor)
    with governance.batch():
        results = [
            governance.expire_points(
                meta, member_id=m, community=body.community, before=body.before
            )
            for m in members
        ]
    expired = [r for r in results if r.extra.get("entry_id") is not None]
    return ExpiryAnswer(
        community=body.community,
        before=body.before,
        accounts=len(expired),
        points=sum(r.extra["points"] for r in expired),
        position=max((r.position for r in expired), default=0),
    )


def _visible(viewer: Viewer, member: LiteralString = "member_id") -> Filter:
    """The points rows (of a community) the caller may read."""
    return viewer.community_things("community", member)


@router.get("/points/entries/{entry_id}", responses=QUERY)
def get_entry(entry_id: UUID, conn: Accounts, viewer: ViewerDep) -> EntryOut:
    """One points entry and its current status."""
    row = first(conn, "SELECT * FROM points_entries", ("entry_id = %s", entry_id), _visible(viewer))
    return EntryOut(**found(row, "PointsEntry", entry_id))


def _accounts(conn: Connection, member_id: UUID, viewer: Viewer) -> list[dict[str, Any]]:
    """The member's accounts the caller may read (of the communities in its view); 404 if
    there are none and the caller may not read the member either."""
    accounts = matching(
        conn,
        "SELECT community, balance, earned, deducted, redeemed, expired, pending"
        " FROM points_balances",
        ("member_id = %s", member_id),
        _visible(viewer),
        order=" ORDER BY community",
    )
    if not accounts:
        member = first(
            conn, "SELECT m.id FROM members AS m", ("m.id = %s", member_id), viewer.members()
        )
        found(member, "Member", member_id)
    return accounts


@router.get("/points/accounts/{member_id}", responses=QUERY)
def get_account(member_id: UUID, conn: Accounts, viewer: ViewerDep) -> AccountOut:
    """A member's points in every community the caller may read, together and per
    community."""
    accounts = _accounts(conn, member_id, viewer)
    totals = {name: sum(a[name] for a in accounts) for name in TOTALS}
    return AccountOut(member_id=member_id, communities=accounts, **totals)


@router.get(
    "/points/accounts/{member_id}/ledger",
    responses={**QUERY, **FILE_RESPONSES},
    response_model=PageOf[LedgerEntry],
)
def get_ledger(
    member_id: UUID,
    conn: Accounts,
    viewer: ViewerDep,
    request: Request,
    community: Code | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    fmt: FormatQuery = Format.JSON,
) -> Any:
    """Every entry of the member's accounts the caller may read, in order, with its
    running balance; with `format=csv|xlsx`, all of them as a file."""
    _accounts(conn, member_id, viewer)
    where, params = conditions(
        _visible(viewer), ("member_id = %s", member_id), ("community = %s", community)
    )
    select = sql.SQL("SELECT * FROM points_ledger")
    if fmt is not Format.JSON:
        query = select + sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
        export = Export(
            name=file_name("points-ledger", member_id, community),
            title="Points ledger 积分台账",
            columns=LEDGER_COLUMNS,
            query=request_query(request),
            position=request.state.projection_position,
        )
        return ledger_file(conn, query, params, export, fmt)
    items, next_cursor = Page(["position"]).fetch(conn, select, where, params, limit, cursor)
    return PageOf[LedgerEntry](items=[LedgerEntry(**r) for r in items], next_cursor=next_cursor)


def ledger_file(
    conn: Connection, query: sql.Composable, params: list[Any], export: Export, fmt: Format
) -> Any:
    """The ledger rows of `query` (points_ledger rows), in order, as a file."""
    with stream(conn, query + sql.SQL(" ORDER BY position"), params) as entries:
        return file_response(export, map(_ledger_row, entries), fmt)


def board_file(
    conn: Connection, board: sql.Composable, params: list[Any], export: Export, fmt: Format
) -> Any:
    """The leaderboard `board` (see `_board`), ranked, as a file."""
    ordered = board + sql.SQL(" ORDER BY points DESC, member_id DESC")
    with stream(conn, ordered, params) as ranked:
        rows = ({**row, "rank": rank} for rank, row in enumerate(ranked, start=1))
        return file_response(export, rows, fmt)


def _ledger_row(row: dict[str, Any]) -> dict[str, Any]:
    source = row["source"] or {}
    return {**row, "source_kind": source.get("kind"), "source_id": source.get("id")}


def _board(
    viewer: Viewer, jurisdiction: str | None, earned_from: Any, earned_to: Any
) -> tuple[sql.Composable, list[Any]]:
    """The leaderboard's query (member_id, name, points) and its parameters."""
    where, params = conditions(
        _visible(viewer, "b.member_id"),
        (in_subtree("community"), jurisdiction),
        ("recorded_at >= %s", earned_from),
        ("recorded_at < %s", earned_to),
    )
    if earned_from is None and earned_to is None:
        source, amount = sql.SQL("points_balances"), sql.SQL("balance")
    else:
        source, amount = sql.SQL("points_ledger"), sql.SQL("delta")
    # A name only of a member the caller may read (api.http.visibility): the points of a
    # community's accounts are not the people's records (a grid worker reads its
    # community's points, but the people of its own grid only).
    named, named_params = viewer.members()
    board = sql.SQL(
        "SELECT * FROM (SELECT b.member_id, m.name, sum(b.{amount})::bigint AS points"
        " FROM {source} AS b LEFT JOIN members m ON m.id = b.member_id AND {named} {where}"
        " GROUP BY b.member_id, m.name) AS board"
    ).format(
        amount=amount,
        source=source,
        named=named,
        where=sql.SQL("WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
    )
    return board, [*named_params, *params]


@router.get(
    "/points/leaderboard",
    responses={**QUERY, **FILE_RESPONSES},
    response_model=PageOf[LeaderboardRow],
)
def leaderboard(
    conn: Board,
    viewer: ViewerDep,
    request: Request,
    jurisdiction: Annotated[Code | None, Query(description="Communities in this subtree.")] = None,
    earned_from: Annotated[Instant | None, Query(alias="from")] = None,
    earned_to: Annotated[Instant | None, Query(alias="to")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    fmt: FormatQuery = Format.JSON,
) -> Any:
    """Members by points: their balance, or with `from`/`to` the net points entered then;
    counting only the accounts the caller may read (a resident: their own). With
    `format=csv|xlsx`, the whole board as a file, ranked."""
    board, params = _board(viewer, jurisdiction, earned_from, earned_to)
    if fmt is not Format.JSON:
        export = Export(
            name=file_name(
                "points-leaderboard",
                jurisdiction or "all",
                earned_from and earned_from.date(),
                earned_to and earned_to.date(),
            ),
            title="Points leaderboard 积分排行",
            columns=LEADERBOARD_COLUMNS,
            query=request_query(request),
            position=request.state.projection_position,
            period=period_text(earned_from, earned_to),
        )
        return board_file(conn, board, params, export, fmt)
    items, next_cursor = Page(["points", "member_id"], descending=True).fetch(
        conn, board, [], params, limit, cursor
    )
    return PageOf[LeaderboardRow](
        items=[LeaderboardRow(**r) for r in items], next_cursor=next_cursor
    )
