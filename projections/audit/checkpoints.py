"""Signed checkpoints: the server's Ed25519 signature over a tree head.

The signed text is exactly these four lines, each ending in a newline:

    gridledger checkpoint v1
    tree_size <decimal>
    root_hash <64 lowercase hex digits>
    timestamp <RFC 3339 UTC, seconds, e.g. 2026-03-01T08:00:00Z>

The signature is Ed25519 (RFC 8032) over that text's UTF-8 bytes. `key_id` is the
first 8 bytes, hex, of SHA-256 of the raw 32-byte public key. Checkpoints are kept in
`audit_checkpoints` (not a projection's table: a rebuild must not forget them).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from projections.audit.merkle_store import StoredTree

log = logging.getLogger(__name__)

DDL = (
    "CREATE TABLE IF NOT EXISTS audit_checkpoints ("
    " id bigserial PRIMARY KEY, tree_size bigint NOT NULL, root_hash bytea NOT NULL,"
    " timestamp timestamptz NOT NULL, key_id text NOT NULL, signature bytea NOT NULL)",
)
"""The DDL of this module's tables (idempotent), applied by `migrate` (see
`projections.registry.SCHEMA`)."""

HEADER = "gridledger checkpoint v1"


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(key)).digest()[:8].hex()


def public_key_from(text: str) -> Ed25519PublicKey:
    """A public key from base64 of its 32 raw bytes."""
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text.strip()))


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: bytes
    timestamp: datetime
    key_id: str
    signature: bytes

    def text(self) -> str:
        return signed_text(self.tree_size, self.root_hash, self.timestamp)

    def verify(self, key: Ed25519PublicKey) -> bool:
        """Whether `key` signed this checkpoint."""
        if self.key_id != key_id(key):
            return False
        try:
            key.verify(self.signature, self.text().encode())
        except InvalidSignature:
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": _rfc3339(self.timestamp),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
            "text": self.text(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(
            tree_size=int(data["tree_size"]),
            root_hash=bytes.fromhex(data["root_hash"]),
            timestamp=datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00")),
            key_id=str(data["key_id"]),
            signature=base64.b64decode(data["signature"]),
        )


def signed_text(tree_size: int, root_hash: bytes, timestamp: datetime) -> str:
    return (
        f"{HEADER}\ntree_size {tree_size}\nroot_hash {root_hash.hex()}\n"
        f"timestamp {_rfc3339(timestamp)}\n"
    )


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(key: Ed25519PrivateKey, tree_size: int, root_hash: bytes, now: datetime) -> Checkpoint:
    moment = now.astimezone(UTC).replace(microsecond=0)
    signature = key.sign(signed_text(tree_size, root_hash, moment).encode())
    return Checkpoint(tree_size, root_hash, moment, key_id(key.public_key()), signature)


def make(
    conn: psycopg.Connection[Any],
    key: Ed25519PrivateKey,
    size: int | None = None,
    now: datetime | None = None,
) -> Checkpoint:
    """Sign the stored tree's head (of `size` leaves, default all) and keep it."""
    tree = StoredTree(conn)
    size = tree.size() if size is None else size
    checkpoint = sign(key, size, tree.root(size), now or datetime.now(UTC))
    conn.execute(
        "INSERT INTO audit_checkpoints (tree_size, root_hash, timestamp, key_id, signature)"
        " VALUES (%s, %s, %s, %s, %s)",
        (
            checkpoint.tree_size,
            checkpoint.root_hash,
            checkpoint.timestamp,
            checkpoint.key_id,
            checkpoint.signature,
        ),
    )
    return checkpoint


def make_if_due(
    conn: psycopg.Connection[Any], key: Ed25519PrivateKey, every: int
) -> Checkpoint | None:
    """Sign the stored tree's head if it has grown by at least `every` leaves since the
    latest checkpoint (or there is none and the tree is not empty); else None."""
    size = StoredTree(conn).size()
    last = latest(conn)
    if size == 0 or size - (last.tree_size if last is not None else 0) < every:
        return None
    return make(conn, key, size)


def sign_while(
    url: str, key: Ed25519PrivateKey, every: int, stopping: threading.Event, poll: float = 1.0
) -> None:
    """Until `stopping`, sign a checkpoint whenever the Merkle log has grown by `every`
    leaves since the latest one (checked every `poll` seconds, on one connection, made
    again after an error)."""
    conn: psycopg.Connection[Any] | None = None
    try:
        while not stopping.wait(poll):
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(url)
                with conn.transaction():
                    made = make_if_due(conn, key, every)
                if made is not None:
                    log.info("signed checkpoint at tree size %s", made.tree_size)
            except psycopg.Error as error:
                log.warning("checkpoint not signed, retrying: %s", error)
                if conn is not None:
                    conn.close()
    finally:
        if conn is not None:
            conn.close()


def latest(conn: psycopg.Connection[Any]) -> Checkpoint | None:
    row = conn.execute(
        "SELECT tree_size, root_hash, timestamp, key_id, signature FROM audit_checkpoints"
        " ORDER BY tree_size DESC, id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return Checkpoint(int(row[0]), bytes(row[1]), row[2], str(row[3]), bytes(row[4]))
