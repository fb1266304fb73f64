"""Civility points (文明积分): rulebooks, awards and their approval, deductions,
redemptions, reversals, expiries; accounts, ledgers and the leaderboard."""

from __future__ import annotations

from typing import Annotated, Any
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
from api.http.reads import Cursor, Limit, found, reader
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
from api.http.visibility import Viewer, ViewerDep
from domain.application import Governance
from domain.commands.base import Meta
from domain.errors import NotFoundError
from domain.jurisdiction import Kind
from projections.engine.tracking import wait_for
from projections.store.events import max_position
from projections.views import jurisdictions, members, points
from projections.views.reading import Connection

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
    found(jurisdictions.known(conn, community), "Jurisdiction", community)
    found_rules = points.rulebook(conn, community, as_of)
    return RulebookOut(community=community, as_of=as_of, rules=[RuleOut(**r) for r in found_rules])


def _award_fields(body: AwardIn | DeductionIn) -> dict[str, Any]:
    fields = body.model_dump(exclude={"source"})
    return {**fields, "source_kind": body.source.kind, "source_id": body.source.id}


def _entry_created(response: Response, result: Any) -> EntryAnswer:
    return created(response, result, f"/v1/points/entries/{result.extra['entry_id']}", EntryAnswer)


@router.post("/points/awards", status_code=201, responses=COMMAND, name="award_points")
def award(body: AwardIn, caller: CallerDep, response: Response) -> EntryAnswer:
    """Award a manual rule to a member for a source; pending if the rule needs approval."""
    fields = _award_fields(body)
    result = caller.run("award_points", place=body.community, member=body.member_id, **fields)
    return _entry_created(response, result)


@router.post("/points/deductions", status_code=201, responses=COMMAND, name="deduct_points")
def deduct(body: DeductionIn, caller: CallerDep, response: Response) -> EntryAnswer:
    """Deduct a deduction rule's points for an uncivil act (扣分); may go below zero."""
    fields = _award_fields(body)
    result = caller.run("deduct_points", place=body.community, member=body.member_id, **fields)
    return _entry_created(response, result)


@router.post("/points/redemptions", status_code=201, responses=COMMAND, name="redeem_points")
def redeem(body: RedemptionIn, caller: CallerDep, response: Response) -> EntryAnswer:
    """Spend points at the points supermarket (积分超市), never beyond the balance."""
    member, fields = body.member_id, body.model_dump()
    result = caller.run(
        "redeem_points", place=body.community, owner=member, member=member, **fields
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
        holders = points.account_holders(conn, body.community)
    finally:
        pool.putconn(conn)
    governance = caller.governance
    meta = Meta(actor=caller.principal.actor)
    with governance.batch():
        results = [
            governance.expire_points(
                meta, member_id=m, community=body.community, before=body.before
            )
            for m in holders
        ]
    expired = [r for r in results if r.extra.get("entry_id") is not None]
    return ExpiryAnswer(
        community=body.community,
        before=body.before,
        accounts=len(expired),
        points=sum(r.extra["points"] for r in expired),
        position=max((r.position for r in expired), default=0),
    )


@router.get("/points/entries/{entry_id}", responses=QUERY)
def get_entry(entry_id: UUID, conn: Accounts, viewer: ViewerDep) -> EntryOut:
    """One points entry and its current status."""
    row = points.entry(conn, entry_id, viewer.reach)
    return EntryOut(**found(row, "PointsEntry", entry_id))


def _accounts(conn: Connection, member_id: UUID, viewer: Viewer) -> list[dict[str, Any]]:
    """The member's accounts the caller may read (of the communities in its view); 404 if
    there are none and the caller may not read the member either."""
    accounts = points.accounts(conn, member_id, viewer.reach)
    if not accounts and not members.member_seen(conn, member_id, viewer.reach):
        raise NotFoundError("Member", member_id)
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
    clauses, params = points.ledger(viewer.reach, member_id, community)
    if fmt is not Format.JSON:
        export = Export(
            name=file_name("points-ledger", member_id, community),
            title="Points ledger 积分台账",
            columns=LEDGER_COLUMNS,
            query=request_query(request),
            position=request.state.projection_position,
        )
        return ledger_file(conn, clauses, params, export, fmt)
    items, next_cursor = points.ledger_page(conn, clauses, params, limit, cursor)
    return PageOf[LedgerEntry](items=[LedgerEntry(**r) for r in items], next_cursor=next_cursor)


def ledger_file(
    conn: Connection, clauses: list[sql.Composable], params: list[Any], export: Export, fmt: Format
) -> Any:
    """The ledger rows matching `clauses` (see `points.ledger`), in order, as a file."""
    with points.ledger_rows(conn, clauses, params) as entries:
        return file_response(export, map(_ledger_row, entries), fmt)


def board_file(
    conn: Connection, board: sql.Composable, params: list[Any], export: Export, fmt: Format
) -> Any:
    """The leaderboard `board` (see `points.board`), ranked, as a file."""
    with points.ranked(conn, board, params) as ranked:
        rows = ({**row, "rank": rank} for rank, row in enumerate(ranked, start=1))
        return file_response(export, rows, fmt)


def _ledger_row(row: dict[str, Any]) -> dict[str, Any]:
    source = row["source"] or {}
    return {**row, "source_kind": source.get("kind"), "source_id": source.get("id")}


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
    board, params = points.board(viewer.reach, jurisdiction, earned_from, earned_to)
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
    items, next_cursor = points.board_page(conn, board, params, limit, cursor)
    return PageOf[LeaderboardRow](
        items=[LeaderboardRow(**r) for r in items], next_cursor=next_cursor
    )
