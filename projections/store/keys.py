"""Data keys in PostgreSQL (`data_keys`), apart from the log, optionally wrapped.

    data_keys(kid, key, wrapped, subject_id, created_at, erased_at)

A key is a random 256-bit AES key. With a master key configured (`configure`, from
the settings' `personal_data_master_key`, or the environment variable
`GRIDLEDGER_PERSONAL_DATA_MASTER_KEY`: base64 of 32 bytes) each data key is stored
wrapped (AES-256-GCM under the master, its kid as associated data), so a dump of the
database alone does not reveal them; without one they are stored as they are.
Shredding sets `key` to NULL and `erased_at`; nothing can bring the key back (a backup
taken before still holds it: backups must expire within the retention period).

Keys are made ahead, `BATCH` in one transaction, and handed out one per new person
(`new_key`), so registering a member costs no extra round trip; a key handed out for
a command that was then refused seals nothing and is never read. `subject_id` is
written when a key is shredded (the person it was for); until then the log is what
ties a key to a person (the envelope's `kid`).

Projections read keys in the transaction of their batch (`fetch`), so what they
decrypt is exactly what the table held then.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections.abc import Iterable
from typing import Any
from uuid import UUID, uuid4

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg_pool import ConnectionPool

KEY_BYTES = 32
BATCH = 64
MASTER_ENV = "GRIDLEDGER_PERSONAL_DATA_MASTER_KEY"

DDL = (
    "CREATE TABLE IF NOT EXISTS data_keys ("
    " kid uuid PRIMARY KEY, key bytea, wrapped boolean NOT NULL, subject_id uuid,"
    " created_at timestamptz NOT NULL DEFAULT now(), erased_at timestamptz,"
    " CHECK ((key IS NULL) = (erased_at IS NOT NULL)))",
)
"""The data keys' table, applied by `migrate` (see `projections.registry.SCHEMA`)."""


class KeyUnavailableError(RuntimeError):
    """Raised when a wrapped data key is read without the master key that wraps it (none
    configured, or another one): a configuration error, never an event's fault."""


class Keyring:
    """Wraps and unwraps data keys under the master key (None: keys stored as they are)."""

    def __init__(self, master: bytes | None) -> None:
        if master is not None and len(master) != KEY_BYTES:
            raise ValueError("the personal data master key must be 32 bytes (base64 in settings)")
        self.master = master
        self._master = None if master is None else AESGCM(master)

    @property
    def wraps(self) -> bool:
        return self._master is not None

    def derive(self, label: str) -> bytes | None:
        """A secret of its own for `label`, derived from the master (None: no master)."""
        if self.master is None:
            return None
        return hmac.new(self.master, b"gridledger/" + label.encode(), hashlib.sha256).digest()

    def wrap(self, kid: UUID, key: bytes) -> bytes:
        if self._master is None:
            return key
        nonce = os.urandom(12)
        return nonce + self._master.encrypt(nonce, key, kid.bytes)

    def unwrap(self, kid: UUID, stored: bytes, wrapped: bool) -> bytes:
        if not wrapped:
            return stored
        if self._master is None:
            raise KeyUnavailableError(
                f"data key {kid} is wrapped and no master key is configured ({MASTER_ENV})"
            )
        try:
            return self._master.decrypt(stored[:12], stored[12:], kid.bytes)
        except InvalidTag:
            raise KeyUnavailableError(
                f"data key {kid} does not unwrap under the configured master key: the"
                f" master key ({MASTER_ENV}, or the data directory's"
                " personal_data_master_key) is not the one these keys were made under"
            ) from None


_configured: list[Keyring] = []


def configure(master: bytes | None) -> Keyring:
    """Set the process's keyring (the composition root calls it from settings)."""
    _configured[:] = [Keyring(master)]
    return _configured[0]


def keyring() -> Keyring:
    """The process's keyring: as configured, else from the environment."""
    if not _configured:
        text = os.environ.get(MASTER_ENV)
        configure(base64.b64decode(text) if text else None)
    return _configured[0]


def fetch(cur: psycopg.Cursor[Any], kids: Iterable[str]) -> dict[str, bytes | None]:
    """The keys of `kids` (ids as the envelopes spell them) as `cur`'s transaction sees
    them, by the same text (None: shredded)."""
    wanted = list(set(kids))
    if not wanted:
        return {}
    ring = keyring()
    rows = cur.execute(
        "SELECT kid, key, wrapped FROM data_keys WHERE kid = ANY(%s::uuid[])", (wanted,)
    ).fetchall()
    return {
        str(kid): None if key is None else ring.unwrap(kid, bytes(key), wrapped)
        for kid, key, wrapped in rows
    }


def still_held(conn: psycopg.Connection[Any], kid: str) -> bool:
    """Whether the data key `kid` (as an envelope spells it) still exists unshredded."""
    row = conn.execute(
        "SELECT 1 FROM data_keys WHERE kid = %s::uuid AND key IS NOT NULL", (kid,)
    ).fetchone()
    return row is not None


class PostgresKeyStore:
    """The `domain.personal_data.KeyStore` of the `data_keys` table."""

    def __init__(self, url: str, ring: Keyring | None = None, *, timeout: float = 5.0) -> None:
        self.ring = ring or keyring()
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url, min_size=1, max_size=4, timeout=timeout, open=True
        )
        self._ready: list[tuple[UUID, bytes]] = []
        self._lock = threading.Lock()

    def new_key(self) -> tuple[UUID, bytes]:
        with self._lock:
            if not self._ready:
                self._ready = self._make(BATCH)
            return self._ready.pop()

    def _make(self, count: int) -> list[tuple[UUID, bytes]]:
        made = [(uuid4(), os.urandom(KEY_BYTES)) for _ in range(count)]
        wrapped = self.ring.wraps
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO data_keys (kid, key, wrapped) VALUES (%s, %s, %s)",
                [(kid, self.ring.wrap(kid, key), wrapped) for kid, key in made],
            )
        return made

    def keys(self, kids: list[UUID]) -> dict[UUID, bytes | None]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            found = fetch(cur, [str(kid) for kid in kids])
        return {UUID(kid): key for kid, key in found.items()}

    def shred(self, kid: UUID, subject: UUID) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE data_keys SET key = NULL, erased_at = coalesce(erased_at, now()),"
                " subject_id = %s WHERE kid = %s",
                (subject, kid),
            )

    def secret(self, label: str) -> bytes | None:
        return self.ring.derive(label)

    def check(self) -> None:
        """Refuse a master key that does not open the keys already stored (or their
        absence): KeyUnavailableError, at start, rather than at the first read."""
        with self._pool.connection() as conn, conn.cursor() as cur:
            row = cur.execute(
                "SELECT kid, key, wrapped FROM data_keys WHERE key IS NOT NULL"
                " ORDER BY wrapped DESC, created_at DESC LIMIT 1"
            ).fetchone()
        if row is not None:
            self.ring.unwrap(row[0], bytes(row[1]), row[2])

    def close(self) -> None:
        self._pool.close()
