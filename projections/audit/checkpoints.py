"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes, and where they
are kept.

A checkpoint is the note (c2sp.org/tlog-checkpoint, c2sp.org/signed-note)

    <origin>
    <tree size, decimal>
    <base64 of the 32-byte RFC 9162 root hash>

    — <key name> base64(4-byte key id || 64-byte Ed25519 signature)

signed by the log's key (signature type 0x01; key name = origin), then any witness
cosignatures (c2sp.org/tlog-cosignature) as further signature lines. The verifier key
is `name+keyid+base64(0x01 || public key)`. Checkpoints are kept in
`audit_checkpoint_notes` (not a projection's table: a rebuild must not forget them),
cosignatures in `audit_cosignatures`. Nothing read back from the database is trusted:
every use opens the note again with a pinned key (`open_checkpoint`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import psycopg

from projections.audit.note import (
    Ed25519Verifier,
    NoteError,
    OpenedNote,
    Signature,
    UnverifiedNoteError,
    open_note,
    split_note,
)
from projections.audit.tlog_checkpoint import parse_checkpoint
from projections.audit.tlog_cosignature import CosignatureVerifier

DDL = (
    "CREATE TABLE IF NOT EXISTS audit_checkpoint_notes ("
    " id bigserial PRIMARY KEY, origin text NOT NULL, tree_size bigint NOT NULL,"
    " root_hash bytea NOT NULL, signed_at timestamptz NOT NULL, note text NOT NULL)",
    "CREATE INDEX IF NOT EXISTS audit_checkpoint_notes_size"
    " ON audit_checkpoint_notes (tree_size, id)",
    "CREATE TABLE IF NOT EXISTS audit_cosignatures ("
    " checkpoint_id bigint NOT NULL REFERENCES audit_checkpoint_notes (id) ON DELETE CASCADE,"
    " witness text NOT NULL, line text NOT NULL, PRIMARY KEY (checkpoint_id, witness))",
    # the signer's standing refusal (projections.audit.signer), for /readyz and /metrics
    "CREATE TABLE IF NOT EXISTS audit_signer_refusals ("
    " id int PRIMARY KEY DEFAULT 1 CHECK (id = 1), refused_at timestamptz NOT NULL,"
    " tree_size bigint NOT NULL, reason text NOT NULL)",
    # the size each witness last cosigned (projections.audit.witnessing)
    "CREATE TABLE IF NOT EXISTS audit_witness_sizes ("
    " witness text PRIMARY KEY, tree_size bigint NOT NULL)",
)
"""The DDL of the audit's fixed tables (idempotent), applied by `migrate` (see
`projections.registry.SCHEMA`)."""


class CheckpointError(ValueError):
    """Raised when a checkpoint note does not open with the pinned keys; the message
    names what failed."""


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint as stored or received. `note` is the log-signed note; `cosignatures`
    the witnesses' signature lines (each ending in a newline). Unverified until opened."""

    origin: str
    tree_size: int
    root_hash: bytes
    note: str
    signed_at: datetime
    cosignatures: tuple[str, ...] = ()
    id: int | None = field(default=None, compare=False)

    @property
    def body(self) -> str:
        """The checkpoint text the signatures cover."""
        return split_note(self.note.encode())[0]

    def signed_note(self) -> str:
        """The note with every cosignature appended: what GET /v1/audit/checkpoint serves."""
        return self.note + "".join(self.cosignatures)

    def log_signature(self) -> Signature:
        return split_note(self.note.encode())[1][0]

    def to_json(self) -> dict[str, Any]:
        signature = self.log_signature()
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.signed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "key_name": signature.name,
            "key_id": f"{signature.key_id:08x}",
            "signature": signature.b64,
            "text": self.body,
            "note": self.signed_note(),
        }


def from_note(note: str, signed_at: datetime | None = None) -> Checkpoint:
    """A checkpoint from a signed note (cosignatures after the first line kept apart);
    syntax only: open it with `open_checkpoint` before believing it."""
    try:
        text, signatures = split_note(note.encode())
        body = parse_checkpoint(text)
    except NoteError as error:
        raise CheckpointError(f"not a signed checkpoint note: {error}") from None
    first = signatures[0].line
    return Checkpoint(
        origin=body.origin,
        tree_size=body.size,
        root_hash=body.root_hash,
        note=text + "\n" + first,
        signed_at=signed_at or datetime.now(UTC),
        cosignatures=tuple(s.line for s in signatures[1:]),
    )


def read_kept(text: str) -> Checkpoint:
    """A checkpoint an auditor kept: the note itself, or the JSON of
    `/v1/audit/checkpoints/latest` or `gridledger checkpoint` (only its `note` is read)."""
    if text.lstrip().startswith("{"):
        try:
            note = json.loads(text)["note"]
        except (ValueError, KeyError, TypeError):
            raise CheckpointError("the kept checkpoint's JSON has no note") from None
        return from_note(str(note))
    return from_note(text)


@dataclass(frozen=True)
class Opened:
    """A checkpoint whose log signature verified, and the witnesses that cosigned it."""

    checkpoint: Checkpoint
    witnesses: tuple[str, ...]


def open_checkpoint(
    checkpoint: Checkpoint,
    log: Ed25519Verifier,
    witnesses: Sequence[CosignatureVerifier] = (),
    quorum: int = 0,
) -> Opened:
    """Check `checkpoint` against the pinned log key: its origin is the key's name, the
    key signed it, and at least `quorum` of `witnesses` cosigned it; raise
    CheckpointError naming what failed."""
    who = f"{log.name}+{log.key_id:08x}"
    if checkpoint.origin != log.name:
        raise CheckpointError(
            f"the checkpoint is of log {checkpoint.origin!r}, not of the pinned key's {who}"
        )
    try:
        opened = open_note(checkpoint.signed_note().encode(), [log, *witnesses])
    except UnverifiedNoteError as error:
        opened = OpenedNote("", (), error.unverified)
    except NoteError as error:
        raise CheckpointError(f"the checkpoint does not verify: {error}") from None
    if not any(s.name == log.name and s.key_id == log.key_id for s in opened.verified):
        found = ", ".join(f"{s.name}+{s.key_id:08x}" for s in opened.unverified)
        raise CheckpointError(
            f"the checkpoint is not signed by the pinned key {who} (signed by {found})"
        )
    cosigned = tuple(
        f"{s.name}+{s.key_id:08x}"
        for s in opened.verified
        if (s.name, s.key_id) != (log.name, log.key_id)
    )
    if len(cosigned) < quorum:
        raise CheckpointError(
            f"the checkpoint of size {checkpoint.tree_size} is cosigned by {len(cosigned)}"
            f" of the trusted witnesses, fewer than the {quorum} required"
        )
    return Opened(checkpoint, cosigned)


def store(conn: psycopg.Connection[Any], checkpoint: Checkpoint) -> Checkpoint:
    row = conn.execute(
        "INSERT INTO audit_checkpoint_notes (origin, tree_size, root_hash, signed_at, note)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (
            checkpoint.origin,
            checkpoint.tree_size,
            checkpoint.root_hash,
            checkpoint.signed_at,
            checkpoint.note,
        ),
    ).fetchone()
    assert row is not None
    return replace(checkpoint, id=int(row[0]))


def add_cosignature(
    conn: psycopg.Connection[Any], checkpoint: Checkpoint, witness: str, line: str
) -> None:
    conn.execute(
        "INSERT INTO audit_cosignatures (checkpoint_id, witness, line) VALUES (%s, %s, %s)"
        " ON CONFLICT (checkpoint_id, witness) DO UPDATE SET line = excluded.line",
        (checkpoint.id, witness, line),
    )


_SELECT = (
    "SELECT id, origin, tree_size, root_hash, signed_at, note, ARRAY(SELECT line"
    " FROM audit_cosignatures AS c WHERE c.checkpoint_id = n.id ORDER BY witness)"
    " FROM audit_checkpoint_notes AS n"
)
_ALL = _SELECT + " ORDER BY tree_size, id"
_LATEST = _SELECT + " ORDER BY tree_size DESC, id DESC LIMIT 1"


def stored(conn: psycopg.Connection[Any]) -> list[Checkpoint]:
    """Every stored checkpoint, by tree size, then in the order they were signed."""
    return _read(conn, _ALL)


def _read(conn: psycopg.Connection[Any], query: str) -> list[Checkpoint]:
    return [
        Checkpoint(
            origin=str(origin),
            tree_size=int(size),
            root_hash=bytes(root),
            note=str(note),
            signed_at=signed_at,
            cosignatures=tuple(lines),
            id=int(id_),
        )
        for id_, origin, size, root, signed_at, note, lines in conn.execute(query)
    ]


def latest(conn: psycopg.Connection[Any]) -> Checkpoint | None:
    found = _read(conn, _LATEST)
    return found[0] if found else None
