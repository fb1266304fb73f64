"""The audit trail (auditors and admins): the global log, streams, states then,
signed checkpoints, Merkle proofs and export bundles."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import PlainTextResponse, StreamingResponse
from psycopg_pool import ConnectionPool

from api.http.auth import PrincipalDep
from api.http.deps import GovernanceDep, PoolDep
from api.http.permissions import is_platform
from api.http.problems import QUERY, ForbiddenError
from api.http.reads import MAX_POSITION, Connection, Limit, reader
from api.http.routing import OneHopRoute
from api.http.schemas.audit import (
    CheckpointOut,
    ConsistencyProof,
    EventsPage,
    InclusionProof,
    JournalEntry,
    PublicKey,
    StateThen,
    Stream,
)
from api.http.schemas.common import Instant
from api.http.visibility import READS_AUDIT
from domain.errors import InvalidValueError, NotFoundError
from projections.audit import bundle, checkpoints, journal
from projections.audit.merkle_store import StoredTree, UnknownLeafError
from projections.audit.signer import RefusedError, sign_or_record
from projections.audit.witnessing import publish

T = TypeVar("T")


def auditor(principal: PrincipalDep) -> None:
    if principal.role not in READS_AUDIT:
        raise ForbiddenError(f"a {principal.role} may not read the audit trail")
    if principal.role == "admin" and not is_platform(principal):
        raise ForbiddenError("only a platform admin (scope *) may read the whole audit trail")


router = APIRouter(
    prefix="/v1/audit", tags=["audit"], dependencies=[Depends(auditor)], route_class=OneHopRoute
)
Journal = Annotated[Connection, reader("audit")]
Tree = Annotated[Connection, reader("merkle")]
Position = Annotated[int, Query(ge=0, le=MAX_POSITION)]
Size = Annotated[int, Query(ge=1, le=MAX_POSITION)]


def _known(compute: Callable[[], T]) -> T:
    try:
        return compute()
    except UnknownLeafError as error:
        raise NotFoundError("Leaf", str(error)) from None


@router.get("/events", responses=QUERY)
def events(conn: Journal, after: Position = 0, limit: Limit = 50) -> EventsPage:
    """The global log in order, after a position."""
    found = journal.journal_after(conn, after, limit + 1)
    more = len(found) > limit
    items = [JournalEntry(**r) for r in found[:limit]]
    return EventsPage(items=items, next_cursor=str(items[-1].position) if more else None)


@router.get("/streams/{aggregate_id}", responses=QUERY)
def stream(aggregate_id: UUID, conn: Journal) -> Stream:
    """Every event of one aggregate, with who recorded it and when."""
    found = journal.journal_stream(conn, aggregate_id)
    if not found:
        raise NotFoundError("Stream", aggregate_id)
    return Stream(id=aggregate_id, items=[JournalEntry(**r) for r in found])


@router.get("/streams/{aggregate_id}/state", responses=QUERY)
def state_then(
    aggregate_id: UUID,
    governance: GovernanceDep,
    conn: Journal,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    at: Annotated[Instant | None, Query(description="The state as recorded by then.")] = None,
) -> StateThen:
    """The aggregate's state at a version, or as recorded by a moment (from the event
    store, not the query tables)."""
    if (version is None) == (at is None):
        raise InvalidValueError("give exactly one of version and at")
    if at is not None:
        version = journal.version_by(conn, aggregate_id, at)
        if version is None:
            raise NotFoundError("Stream", f"{aggregate_id} at {at.isoformat()}")
    aggregate = state_at(governance, aggregate_id, version)
    return StateThen(**aggregate)


def state_at(governance: Any, aggregate_id: UUID, version: int | None) -> dict[str, Any]:
    from eventsourcing.application import AggregateNotFoundError

    try:
        aggregate = governance.repository.get(aggregate_id, version=version)
    except AggregateNotFoundError:
        raise NotFoundError("Stream", aggregate_id) from None
    if version is not None and aggregate.version != version:
        raise NotFoundError("Version", f"{aggregate_id} v{version}")
    public = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
    return {
        "id": aggregate.id,
        "type": type(aggregate).__name__,
        "version": aggregate.version,
        "created_on": aggregate.created_on,
        "modified_on": aggregate.modified_on,
        "state": jsonable_encoder(public),
    }


@router.get("/checkpoints/latest", responses=QUERY)
def latest_checkpoint(pool: PoolDep) -> CheckpointOut:
    """The latest signed checkpoint: its fields, and `note`, the C2SP signed note with
    any witness cosignatures."""
    with pool.connection() as conn:
        checkpoint = checkpoints.latest(conn)
    if checkpoint is None:
        raise NotFoundError("Checkpoint", "latest")
    return CheckpointOut(**checkpoint.to_json())


@router.get(
    "/checkpoint",
    responses={**QUERY, 200: {"content": {"text/plain": {}}}},
    response_class=PlainTextResponse,
)
def checkpoint_note(pool: PoolDep) -> PlainTextResponse:
    """The latest checkpoint as a C2SP signed note (tlog-checkpoint), with the witnesses'
    cosignatures (tlog-cosignature)."""
    with pool.connection() as conn:
        checkpoint = checkpoints.latest(conn)
    if checkpoint is None:
        raise NotFoundError("Checkpoint", "latest")
    return PlainTextResponse(checkpoint.signed_note(), media_type="text/plain; charset=utf-8")


@router.post("/checkpoints", status_code=201, responses=QUERY)
def sign_checkpoint(request: Request, pool: PoolDep) -> CheckpointOut:
    """Sign a checkpoint of the stored tree now, if it extends the last one signed (409
    if not), and submit it to the configured witnesses."""
    with pool.connection() as conn:
        try:
            made = sign_or_record(conn, request.app.state.signer)
        except RefusedError as error:
            raise HTTPException(409, error.reason) from None
        made = publish(conn, made, request.app.state.settings.audit_witnesses)
    return CheckpointOut(**made.to_json())


@router.get("/proofs/inclusion", responses=QUERY)
def inclusion(conn: Tree, position: Position, tree_size: Size) -> InclusionProof:
    """The audit path of an event in the tree of `tree_size` leaves (RFC 9162 2.1.3)."""
    tree = StoredTree(conn)
    leaf = _known(lambda: tree.leaf_at(position))
    if leaf.index >= tree_size:
        raise InvalidValueError(f"position {position} is leaf {leaf.index}: not in {tree_size}")
    proof = _known(lambda: tree.inclusion(leaf.index, tree_size))
    return InclusionProof(
        position=position,
        leaf_index=leaf.index,
        tree_size=tree_size,
        leaf_hash=leaf.hash.hex(),
        root_hash=tree.root(tree_size).hex(),
        proof=[h.hex() for h in proof],
    )


@router.get("/proofs/consistency", responses=QUERY)
def consistency(conn: Tree, from_size: Size, to_size: Size) -> ConsistencyProof:
    """Proof that the tree of `to_size` extends the tree of `from_size` (RFC 9162 2.1.4)."""
    if from_size > to_size:
        raise InvalidValueError("from_size must not exceed to_size")
    tree = StoredTree(conn)
    proof = _known(lambda: tree.consistency(from_size, to_size))
    return ConsistencyProof(
        from_size=from_size,
        to_size=to_size,
        from_root=tree.root(from_size).hex(),
        to_root=tree.root(to_size).hex(),
        proof=[h.hex() for h in proof],
    )


@router.get("/public-key")
def public_key(request: Request) -> PublicKey:
    """The Ed25519 key that signs checkpoints, as a note verifier key to pin."""
    signer = request.app.state.signer
    raw = signer.key.public_key
    key = Ed25519PublicKey.from_public_bytes(raw)
    return PublicKey(
        origin=signer.key.name,
        verifier_key=signer.key.vkey(),
        key_id=f"{signer.key.key_id:08x}",
        public_key=base64.b64encode(raw).decode(),
        pem=key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode(),
    )


@router.get(
    "/export",
    responses={**QUERY, 200: {"content": {"application/x-ndjson": {}}}},
    response_class=StreamingResponse,
)
def export(
    request: Request,
    conn: Tree,
    first: Annotated[int, Query(alias="from", ge=0, le=MAX_POSITION)] = 0,
    last: Annotated[int | None, Query(alias="to", ge=0, le=MAX_POSITION)] = None,
    since: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="Prove consistency from it.")
    ] = None,
) -> StreamingResponse:
    """A bundle of the events at positions [from, to] under the latest checkpoint (with
    a consistency proof from tree size `since`): verify it offline with
    `gridledger verify --bundle --public-key ...`. Streamed line by line from a
    server-side cursor; a range of more than `audit_export_max_events` events is a 422."""
    state = request.app.state
    limit = state.settings.audit_export_max_events
    try:
        ready = _known(lambda: bundle.prepare(conn, state.signer, first, last, since, limit))
    except RefusedError as error:
        raise HTTPException(409, error.reason) from None
    except bundle.TooManyLeavesError as error:
        raise InvalidValueError(str(error), rule="audit.export_range") from None
    return StreamingResponse(_streamed(state.pool, ready), media_type="application/x-ndjson")


def _streamed(pool: ConnectionPool[Any], ready: bundle.Bundle) -> Iterator[str]:
    """The bundle's lines, a page at a time, on a pool connection of its own."""
    yield ready.header + "\n"
    with pool.connection() as conn:
        page: list[str] = []
        for line in bundle.leaf_lines(conn, ready.start, ready.end):
            page.append(line)
            if len(page) == bundle.PAGE:
                yield "\n".join(page) + "\n"
                page = []
        if page:
            yield "\n".join(page) + "\n"
