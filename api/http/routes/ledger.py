"""The points ledger for evaluators: the trial balance and the anomaly report.

Read policy: admins, auditors and evaluators read every community; staff and grid
workers the communities they read points of (their scope's subtree, and the community
the scope lies in); residents are refused (403): both report on other people's
accounts. A jurisdiction outside a caller's view answers the part it may read (an
empty report), as lists do.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api.http.auth import PrincipalDep
from api.http.exports import (
    FILE_RESPONSES,
    Export,
    Format,
    FormatQuery,
    file_name,
    file_response,
    request_query,
)
from api.http.problems import QUERY, ForbiddenError
from api.http.reads import found, reader
from api.http.routing import OneHopRoute
from api.http.schemas.common import Code, Instant
from api.http.schemas.ledger import (
    AnomaliesOut,
    AnomalyOut,
    Detail,
    TrialBalanceAccount,
    TrialBalanceCommunity,
    TrialBalanceOut,
)
from api.http.visibility import READS_EVERYTHING, READS_SCOPE, Viewer, ViewerDep
from domain.errors import InvalidValueError
from projections.analysis.reconcile import (
    ANOMALIES,
    DEFAULT_BURST_AWARDS,
    DEFAULT_BURST_MINUTES,
    Options,
    anomalies,
)
from projections.analysis.trial_balance import trial_balance, trial_balance_table
from projections.store.snapshot import one_snapshot
from projections.views import jurisdictions
from projections.views.reading import Connection


def ledger_reader(principal: PrincipalDep) -> None:
    if principal.role not in (*READS_EVERYTHING, *READS_SCOPE):
        raise ForbiddenError(f"a {principal.role} may not read the points ledger's reports")


router = APIRouter(
    prefix="/v1/points",
    tags=["points"],
    dependencies=[Depends(ledger_reader)],
    route_class=OneHopRoute,
)
Ledger = Annotated[Connection, reader("points", "jurisdictions")]
Rules = Annotated[Connection, reader("points", "points_rules", "jurisdictions")]
Jurisdiction = Annotated[Code | None, Query(description="Communities in this subtree.")]


def _communities(conn: Connection, viewer: Viewer, jurisdiction: str | None) -> list[str] | None:
    """The communities reported on (None: all): those in the subtree the caller may read."""
    if jurisdiction is not None:
        found(jurisdictions.known(conn, jurisdiction), "Jurisdiction", jurisdiction)
    if viewer.sees_everything and jurisdiction is None:
        return None
    return jurisdictions.communities(conn, viewer.reach, jurisdiction)


@router.get("/trial-balance", response_model=TrialBalanceOut, responses=QUERY | FILE_RESPONSES)
def get_trial_balance(
    conn: Ledger,
    viewer: ViewerDep,
    request: Request,
    jurisdiction: Jurisdiction = None,
    as_of: Annotated[
        Instant | None, Query(description="Count only the postings recorded by then.")
    ] = None,
    detail: Annotated[
        Detail,
        Query(
            description="`account`: every account; `type`: a community's member"
            " accounts on one line."
        ),
    ] = "account",
    fmt: FormatQuery = Format.JSON,
) -> Any:
    """Every account of the communities in the subtree (issuance, members, redeemed,
    expired, deducted) with its debits, credits and balance, and the totals, whose
    balance is zero; as of a past moment with `as_of`. With `format=csv|xlsx`, the
    same lines and a totals line as a file."""
    communities = _communities(conn, viewer, jurisdiction)
    tb = trial_balance(conn, communities, as_of, detail)
    if fmt is not Format.JSON:
        columns, lines = trial_balance_table(tb)
        export = Export(
            name=file_name("trial-balance", jurisdiction or "all", as_of and as_of.date()),
            title="Trial balance 试算平衡表",
            columns=columns,
            query=request_query(request),
            position=request.state.projection_position,
            as_of=as_of.isoformat() if as_of else "now",
        )
        return file_response(export, lines, fmt)
    return TrialBalanceOut(
        jurisdiction=jurisdiction,
        as_of=as_of,
        detail=detail,
        accounts=[TrialBalanceAccount(**asdict(a)) for a in tb.accounts],
        communities=[
            TrialBalanceCommunity(**asdict(c), balanced=c.balanced) for c in tb.communities
        ],
        debits=tb.debits,
        credits=tb.credits,
        balance=tb.balance,
        postings=tb.postings,
        last_position=tb.last_position,
    )


@router.get("/anomalies", responses=QUERY)
def get_anomalies(
    conn: Rules,
    viewer: ViewerDep,
    jurisdiction: Jurisdiction = None,
    recorded_from: Annotated[Instant | None, Query(alias="from")] = None,
    recorded_to: Annotated[Instant | None, Query(alias="to")] = None,
    burst_awards: Annotated[int, Query(ge=1, le=100_000)] = DEFAULT_BURST_AWARDS,
    burst_minutes: Annotated[int, Query(ge=1, le=525_600)] = DEFAULT_BURST_MINUTES,
) -> AnomaliesOut:
    """The anomalies recorded from `from` (inclusive) to `to` (exclusive) in the
    communities of the subtree: caps exceeded, awards without a valid source,
    self-awards and self-approvals, approvals by the awarder, redemptions beyond the
    balance, awards under a rule version not in force, bursts of awards by one actor
    (more than `burst_awards` within `burst_minutes`). The history before `from` counts
    (caps, balances)."""
    if recorded_from is not None and recorded_to is not None and recorded_from >= recorded_to:
        raise InvalidValueError("from must come before to")
    communities = _communities(conn, viewer, jurisdiction)
    # `to` is exclusive; the ledger keeps microseconds, so "at or before to - 1 µs".
    as_of = None if recorded_to is None else recorded_to - timedelta(microseconds=1)
    options = Options(communities, as_of, burst_awards, burst_minutes, since=recorded_from)
    with one_snapshot(conn, ()):  # its six queries see the same commits
        found_anomalies = anomalies(conn, options)
    return AnomaliesOut.model_validate(
        {
            "jurisdiction": jurisdiction,
            "from": recorded_from,
            "to": recorded_to,
            "burst_awards": burst_awards,
            "burst_minutes": burst_minutes,
            "counts": {k: sum(a.kind == k for a in found_anomalies) for k in ANOMALIES},
            "items": [AnomalyOut(**asdict(a)) for a in found_anomalies],
        }
    )
