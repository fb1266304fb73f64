"""Revoked tokens: a deny-list of token ids (`jti`) in the database, read by every
API process within `revocation_refresh_seconds`.

`gridledger revoke JTI` adds one. Each process keeps the set in memory and one thread
rereads it every few seconds on a connection of its own, so checking a token costs a
set lookup, and a revocation takes effect everywhere within a refresh. If the database
cannot be read, the last set read stays in force (and a warning is logged): a
revocation is never forgotten, only learnt late.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

import psycopg

log = logging.getLogger(__name__)

DDL = (
    "CREATE TABLE IF NOT EXISTS revoked_tokens (jti text PRIMARY KEY,"
    " revoked_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz, reason text)",
)
"""The deny-list's table, made by `migrate` (api.runtime.database)."""

CURRENT = "SELECT jti FROM revoked_tokens WHERE expires_at IS NULL OR expires_at > now()"


def revoke(
    url: str, jti: str, *, reason: str | None = None, expires_at: datetime | None = None
) -> bool:
    """Deny the token `jti` from now on; False if it was revoked already."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(
            "INSERT INTO revoked_tokens (jti, reason, expires_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (jti) DO NOTHING",
            (jti, reason, expires_at),
        )
        return cur.rowcount == 1


class Revocations:
    """The revoked token ids as last read, refreshed by a thread every `refresh` s."""

    def __init__(self, url: str, *, refresh: float = 2.0, connect_timeout: int = 5) -> None:
        self.url = url
        self.refresh = refresh
        self.connect_timeout = connect_timeout
        self._revoked: frozenset[str] = frozenset()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None

    def is_revoked(self, jti: str) -> bool:
        return jti in self._revoked

    def start(self) -> None:
        """Read the list once now (a revoked token is refused from the first request),
        then keep it fresh in the background."""
        self.read()
        self._thread = threading.Thread(
            target=self._run, name="gridledger-revocations", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._conn is not None:
            self._conn.close()

    def read(self) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=self.connect_timeout,
                    application_name="gridledger-revocations",
                )
            self._revoked = frozenset(r[0] for r in self._conn.execute(CURRENT).fetchall())
        except psycopg.Error as error:
            log.warning("revoked tokens not read (the last list read stays): %s", error)
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _run(self) -> None:
        while not self._stopping.wait(self.refresh):
            self.read()
