"""Open311 client applications and their API keys (`gridledger open311-key`).

A key is issued per client application (a city hotline system, a resident app) and
scoped to a jurisdiction: a district code. Only the key's SHA-256 is stored: the key
itself is printed once, when it is issued, and cannot be read back. (A key is 256
random bits, so a fast hash is as good as a slow one: nobody can guess through it.)

Why a table and not an event-sourced aggregate: a key is a credential, like a bearer
token, not a fact of governance. The log is immutable and exported to auditors; a
credential's hash does not belong in every export and backup, and a table lets a key be
revoked or rotated. What a client does is in the log: every command it sends records
the client's id as the actor (role `open311_client`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import psycopg

DDL = (
    "CREATE TABLE IF NOT EXISTS open311_clients (id uuid PRIMARY KEY, name text NOT NULL,"
    " jurisdiction text NOT NULL, source text NOT NULL, key_sha256 text NOT NULL UNIQUE,"
    " issued_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz)",
)
"""The clients' table, made by `migrate` (api.runtime.database)."""

ROLE = "open311_client"
"""The actor role of every command a client sends."""
SOURCES = ("resident", "hotline")
"""The channels a client may report through (a ticket's `source`)."""
PREFIX = "o311_"


@dataclass(frozen=True)
class Client:
    """A client application, as its key names it."""

    id: UUID
    name: str
    jurisdiction: str
    source: str


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue(url: str, *, name: str, jurisdiction: str, source: str) -> tuple[Client, str]:
    """A new client application and its key (shown now, never stored in clear)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    client = Client(id=uuid4(), name=name, jurisdiction=jurisdiction, source=source)
    key = PREFIX + secrets.token_urlsafe(32)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO open311_clients (id, name, jurisdiction, source, key_sha256)"
            " VALUES (%s, %s, %s, %s, %s)",
            (client.id, name, jurisdiction, source, digest(key)),
        )
    return client, key


def revoke(url: str, client_id: UUID) -> bool:
    """Refuse the client's key from now on; False if no such client or revoked already."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(
            "UPDATE open311_clients SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
            (client_id,),
        )
        return cur.rowcount == 1


def find(conn: psycopg.Connection[Any], key: str) -> Client | None:
    """The client whose key `key` is, unless it was revoked."""
    row = conn.execute(
        "SELECT id, name, jurisdiction, source FROM open311_clients"
        " WHERE key_sha256 = %s AND revoked_at IS NULL",
        (digest(key),),
    ).fetchone()
    if row is None:
        return None
    return Client(id=row[0], name=row[1], jurisdiction=row[2], source=row[3])
