"""Personal data: erasure with a signed receipt, reasoned reads of one person's clear
data (each recorded), and the list of those reads."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.utils import get_topic
from fastapi import APIRouter, Depends, Query, Request

from api.http.auth import PrincipalDep
from api.http.deps import CallerDep, GovernanceDep, PoolDep
from api.http.problems import COMMAND, QUERY
from api.http.reads import Connection, Cursor, Limit, reader
from api.http.routes.audit import auditor
from api.http.routing import OneHopRoute
from api.http.schemas.common import PageOf
from api.http.schemas.privacy import (
    ErasureIn,
    ErasureReceipt,
    PersonalDataOut,
    PersonalDataRead,
    Receipt,
)
from domain.application import Governance
from domain.commands.base import Meta
from domain.errors import ErasureUnfinishedError, NotFoundError
from domain.member import Member
from projections.audit import journal
from projections.audit.note import Ed25519Signer
from projections.store import keys

router = APIRouter(prefix="/v1", tags=["personal data"], route_class=OneHopRoute)
audit_router = APIRouter(
    prefix="/v1/audit",
    tags=["personal data"],
    dependencies=[Depends(auditor)],
    route_class=OneHopRoute,
)
"""Admins and auditors only (as the rest of the audit trail)."""
Journal = Annotated[Connection, reader("audit")]

ERASED_TOPIC = get_topic(Member.Erased)
Reason = Annotated[
    str,
    Query(
        min_length=5,
        max_length=500,
        description="Why the clear data is needed (recorded with the read).",
        examples=["投诉核实: 居民来电要求更正联系方式"],
    ),
]


@router.post("/members/{member_id}/erasure", status_code=201, responses=COMMAND)
def erase(
    member_id: UUID, body: ErasureIn, caller: CallerDep, request: Request, pool: PoolDep
) -> ErasureReceipt:
    """Erase a member's personal data (admin, with a legal basis): records
    `Member.Erased`, shreds the data key, and answers a signed receipt listing the
    positions whose sealed data can no longer be read (no personal data in it)."""
    caller.allow("erase_member")  # the role first: only then is the member looked up
    place = _member_place(caller.governance, member_id)
    caller.run("erase_member", member_id, place=place, legal_basis=body.legal_basis)
    return _receipt(pool, member_id, request.app.state.signer.key)


@audit_router.get("/erasures/{member_id}", responses=QUERY)
def erasure_receipt(member_id: UUID, request: Request, pool: PoolDep) -> ErasureReceipt:
    """The signed receipt of a member's erasure (admins and auditors)."""
    return _receipt(pool, member_id, request.app.state.signer.key)


def _member_place(governance: Governance, member_id: UUID) -> str | None:
    """Where a member lives (else where they first reported in): an admin scoped to a
    part of the tree erases only the members of that part."""
    member = governance.member(member_id)
    reported = [r["community"] for r in member.report_ins]
    return member.home_grid or (reported[0] if reported else None)


def _receipt(pool: Any, member_id: UUID, key: Ed25519Signer) -> ErasureReceipt:
    with pool.connection() as conn:
        found = journal.erasure(conn, member_id, ERASED_TOPIC)
        if found is None:
            raise NotFoundError("Erasure", member_id)
        position, state = found
        kid = state.get("data_key")
        if kid is not None and keys.still_held(conn, kid):
            raise ErasureUnfinishedError(
                f"the erasure of member {member_id} is recorded but its data key still"
                " exists: erase again to finish it (no receipt is signed until then)"
            )
        affected = [] if kid is None else journal.sealed_under(conn, position, kid)
    receipt = Receipt(
        subject_id=member_id,
        erasure_position=position,
        erased_at=datetime.fromisoformat(state["timestamp"]["_data_"]),
        erased_by=state["actor_id"],
        legal_basis=state["legal_basis"],
        data_key=kid,
        affected_positions=affected,
    )
    signed = canonical(receipt.model_dump(mode="json"))
    return ErasureReceipt(
        receipt=receipt,
        key_id=f"{key.key_id:08x}",
        signature=base64.b64encode(key.sign(signed)).decode(),
    )


def canonical(receipt: dict[str, Any]) -> bytes:
    """The bytes a receipt's signature covers: its JSON, keys sorted, no spaces."""
    return json.dumps(receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@audit_router.get("/personal-data/{member_id}", responses=QUERY)
def personal_data(
    member_id: UUID, reason: Reason, principal: PrincipalDep, governance: GovernanceDep
) -> PersonalDataOut:
    """One member's name and phone in clear, from the event store (admins and auditors,
    with a reason; a missing reason is a 422). The read is recorded first, as a
    `PersonalDataRead` event naming who read whose data and why; without that record,
    nothing is answered."""
    fields = ["name", "phone"]
    meta = Meta(actor=principal.actor)
    read = governance.record_personal_data_read(meta, member_id, reason=reason, fields=fields)
    member = governance.member(member_id)
    personal = governance.personal
    clear = {f: getattr(member, f) for f in fields}
    if personal is not None:
        clear = {f: personal.reveal(v, member.id, f) for f, v in clear.items()}
    return PersonalDataOut(id=member.id, erased=member.erased, read_position=read.position, **clear)


@audit_router.get("/personal-data-reads", responses=QUERY)
def personal_data_reads(
    conn: Journal,
    subject_id: UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOf[PersonalDataRead]:
    """Every recorded read of clear personal data, in order: who, whose, when, why."""
    items, next_cursor = journal.personal_data_reads(conn, subject_id, limit, cursor)
    return PageOf[PersonalDataRead](
        items=[PersonalDataRead.of(r) for r in items], next_cursor=next_cursor
    )
