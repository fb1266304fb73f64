"""Request dependencies: the application, the read pool and the authorised caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import Depends, Header, Request
from psycopg_pool import ConnectionPool

from api.http.auth import Principal, PrincipalDep
from api.http.permissions import Place, authorize, is_platform, refuse_role
from domain.application import Governance
from domain.commands.base import CommandResult, Meta
from domain.errors import NotFoundError
from projections.views import jurisdictions

T = TypeVar("T")


def answering(
    pool: ConnectionPool[Any], first: Callable[[psycopg.Connection[Any]], T]
) -> tuple[psycopg.Connection[Any], T]:
    """A connection of `pool` that answers, taken from it, and what `first(conn)` (the
    caller's first query) answered on it; give it back with `pool.putconn`. A connection
    the server dropped (a restart, an administrator's pg_terminate_backend) fails its
    first query at once and goes back broken, so the pool discards it, and the next is
    tried. (The pool's own `check` would back off 1, 2, 4 ... s between such
    connections, and a separate empty query would cost every request a round trip.)
    Any other error is the caller's. With the server down, the pool's timeout
    (PoolTimeout: a 503) bounds the wait."""
    for attempt in range(pool.max_size + 1):
        conn = pool.getconn()
        try:
            return conn, first(conn)
        except psycopg.OperationalError:
            pool.putconn(conn)
            if not (conn.broken or conn.closed) or attempt == pool.max_size:
                raise
        except BaseException:
            pool.putconn(conn)
            raise
    raise AssertionError("unreachable")


# The dependencies below only read what the app holds: `async` runs them on the event
# loop, where a plain `def` would cost each request a hop to a worker thread and back.


async def get_governance(request: Request) -> Governance:
    governance: Governance = request.app.state.governance
    return governance


async def get_pool(request: Request) -> ConnectionPool[Any]:
    pool: ConnectionPool[Any] = request.app.state.pool
    return pool


GovernanceDep = Annotated[Governance, Depends(get_governance)]
PoolDep = Annotated[ConnectionPool[Any], Depends(get_pool)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Retry safely: the same key with the same body answers the first "
        "answer and records nothing new; with another body it is a 422.",
    ),
]


class Facts:
    """What never changes once recorded, kept for the life of the app so that commands
    need not look it up again: a jurisdiction's kind and path (codes never move) and an
    aggregate's place and owner (fixed when it is made). Only what was found is kept;
    past `max_size` entries of a kind, that kind starts afresh."""

    def __init__(self, max_size: int = 100_000) -> None:
        self.max_size = max_size
        self._places: dict[str, Place] = {}
        self._located: dict[Any, tuple[str, object]] = {}

    def place(self, code: str, find: Callable[[str], Place | None]) -> Place | None:
        return _remembered(self._places, code, find, self.max_size)

    def located(
        self, aggregate_id: Any, locate: Callable[[Any], tuple[str, object]]
    ) -> tuple[str, object]:
        found = _remembered(self._located, aggregate_id, locate, self.max_size)
        assert found is not None
        return found

    def learn(self, aggregate_id: Any, place: str, owner: object) -> None:
        """Keep what `located` would read of an aggregate just made, from the command
        that made it: the next command on it need not load it to be authorised."""
        _remembered(self._located, aggregate_id, lambda _: (place, owner), self.max_size)


def _remembered(kept: dict[Any, Any], key: Any, find: Callable[[Any], Any], max_size: int) -> Any:
    value = kept.get(key)
    if value is None:
        value = find(key)
        if value is not None:
            if len(kept) >= max_size:
                kept.clear()
            kept[key] = value
    return value


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of a command, and what it needs to be authorised."""

    principal: Principal
    governance: Governance
    pool: ConnectionPool[Any]
    idempotency_key: str | None
    facts: Facts

    @property
    def meta(self) -> Meta:
        """The command's metadata: the actor is always the token's sub and role."""
        return Meta(actor=self.principal.actor, idempotency_key=self.idempotency_key)

    def allow(self, command: str, *, place: str | None = None, owner: object = None) -> None:
        """Refuse (403) unless the caller may run `command` at the jurisdiction `place`
        on behalf of the member `owner` (see api.http.permissions)."""
        where = None if place is None or is_platform(self.principal) else self.place(place)
        scope = None if where is None else self.place(self.principal.scope)
        authorize(
            self.principal,
            command,
            place=where,
            scope_path=None if scope is None else scope.path,
            owner=owner,
        )

    def run(
        self,
        command: str,
        *args: Any,
        place: str | None = None,
        owner: object = None,
        member: object = None,
        **kw: Any,
    ) -> CommandResult:
        """Authorise `command` (see `allow`), then run it on `Governance` as the caller;
        a command naming a `member` first requires the caller may read them (see
        `require_known_member`: else 404, as for an unknown id)."""
        self.allow(command, place=place, owner=owner)
        if member is not None:
            self.require_known_member(member)
        method = getattr(self.governance, command)
        result: CommandResult = method(self.meta, *args, **kw)
        return result

    def require_known_member(self, member_id: Any) -> None:
        """NotFoundError (404, as for an id that names nobody) unless the caller may
        read the member `member_id` (api.http.visibility): a resident is let through
        (it acts only on itself, see permissions), staff only for a member whose home
        grid or a report-in lies in their scope's subtree. So a command naming a member
        cannot pull someone from elsewhere into the caller's view (and their phone
        number with them), nor tell by 200/404 whether an id exists."""
        if self.principal.role == "resident" or is_platform(self.principal):
            return
        member = self.governance.member(member_id)  # NotFoundError if nobody
        codes = [member.home_grid, *(r["grid"] or r["community"] for r in member.report_ins)]
        for code in codes:
            place = None if code is None else self.place(code)
            if place is not None and self.principal.scope in place.path:
                return
        raise NotFoundError("Member", member_id)

    def located(
        self, aggregate_id: Any, locate: Callable[[Governance, Any], tuple[str, object]]
    ) -> tuple[str, object]:
        """(the jurisdiction code it lies in, the member it is about) of an existing
        aggregate, as `locate` reads it from the event store (once per aggregate)."""
        return self.facts.located(aggregate_id, lambda i: locate(self.governance, i))

    def place(self, code: str) -> Place | None:
        """The jurisdiction `code` (see `_find_place`), looked up once per app."""
        return self.facts.place(code, self._find_place)

    def _find_place(self, code: str) -> Place | None:
        """The jurisdiction `code`: from the jurisdictions query table, or, for a node
        the projection has not reached yet, from the event store; None if there is no
        such jurisdiction (the command itself then refuses)."""
        conn, row = answering(self.pool, lambda c: jurisdictions.place(c, code))
        self.pool.putconn(conn)
        if row is not None:
            return Place(kind=row[0], path=row[1])
        try:
            node = self.governance.jurisdiction(code)
        except NotFoundError:
            return None
        return Place(kind=node.kind, path=list(node.path))


async def get_caller(
    request: Request, principal: PrincipalDep, idempotency_key: IdempotencyKey = None
) -> Caller:
    # What the app holds is read here, not through GovernanceDep and PoolDep: each
    # dependency more costs every command its share of FastAPI's dependency solving.
    state = request.app.state
    route = request.scope.get("route")
    refuse_role(principal, getattr(route, "name", ""))  # before the body is validated
    state.limits.commands.take(principal.token_id)
    return Caller(principal, state.governance, state.pool, idempotency_key, state.facts)


CallerDep = Annotated[Caller, Depends(get_caller)]
