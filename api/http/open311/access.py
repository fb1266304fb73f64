"""Who asks an Open311 question: a client application by its api_key, or the public.

A key (`gridledger open311-key`) names a client application scoped to a district: it
reads the requests of that district and reports tickets in its grids; every command it
sends records the client's id as the actor, with the role `open311_client`. The spec
passes `api_key` as a parameter: in the query string or, for POST, the form body.

Without a key, requests may be read only when the setting `open311_public_scope`
names a jurisdiction (its subtree is then public); services and their definitions are
public always (they are the categories, with nothing about anyone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from psycopg_pool import ConnectionPool

from api.http.auth import Principal
from api.http.deps import Caller, answering
from api.http.open311.errors import Open311Error
from api.runtime import open311_clients
from api.runtime.open311_clients import Client
from projections.views.reading import Filter, Reach
from projections.views.tickets import visible

PUBLIC = "open311_public"
"""The role of an anonymous reader (it runs no command)."""
KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Asker:
    """Who asks: a client application (by its key) or the public, and where it reads."""

    principal: Principal
    client: Client | None = None

    @property
    def keyed(self) -> bool:
        return self.client is not None

    def tickets(self) -> Filter:
        """The condition on `tickets` of what this asker may read: its subtree."""
        return visible(Reach(scope=self.principal.scope))


def client_asker(client: Client) -> Asker:
    principal = Principal(
        sub=str(client.id),
        role=open311_clients.ROLE,
        scope=client.jurisdiction,
        token_id=f"open311:{client.id}",
    )
    return Asker(principal, client)


def find_client(pool: ConnectionPool[Any], key: str | None) -> Asker | None:
    """The asker a key names (None: no key given); 403 for a key that names none."""
    if key is None or not key.strip():
        return None
    if not KEY.match(key.strip()):
        raise Open311Error(403, "api_key is not valid")
    conn, client = answering(pool, lambda c: open311_clients.find(c, key.strip()))
    pool.putconn(conn)
    if client is None:
        raise Open311Error(403, "api_key is not valid (unknown or revoked)")
    return client_asker(client)


def public_asker(request: Request) -> Asker:
    """The anonymous reader, where the settings make requests public; else 403."""
    scope = request.app.state.settings.open311_public_scope
    if scope is None:
        raise Open311Error(403, "api_key is required: this server's requests are not public")
    return Asker(Principal(sub="public", role=PUBLIC, scope=scope, token_id="open311:public"))


async def reading_asker(
    request: Request,
    api_key: Annotated[
        str | None, Query(max_length=200, description="A client application's key.")
    ] = None,
) -> Asker:
    """The asker of a read: the key's client, else the public (if allowed)."""
    keyed = await run_in_threadpool(find_client, request.app.state.pool, api_key)
    return keyed if keyed is not None else public_asker(request)


AskerDep = Annotated[Asker, Depends(reading_asker)]


async def reading_principal(asker: AskerDep) -> Principal:
    """The principal a read is counted against (rate of waits): the asker's."""
    return asker.principal


def check_jurisdiction(caller: Caller, asker: Asker | None, code: str | None) -> None:
    """A `jurisdiction_id` (None: not given) must be a district this server serves
    (404 otherwise) and, with a key, the key's own (403 otherwise)."""
    if code is None:
        return
    place = caller.place(code) if CODE.match(code) else None
    if place is None or place.kind != "district":
        raise Open311Error(404, f"jurisdiction_id {code!r} was not found")
    if asker is not None and asker.client is not None and code != asker.client.jurisdiction:
        raise Open311Error(403, f"this api_key is for jurisdiction_id {asker.client.jurisdiction}")
