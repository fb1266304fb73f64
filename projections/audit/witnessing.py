"""The log's side of c2sp.org/tlog-witness: submit each new checkpoint to the configured
witnesses with a consistency proof from the size each last cosigned, keep their
cosignatures (each checked against the witness's configured key first).

A witness's size is remembered in `audit_witness_sizes`; when it is unknown or wrong the
witness answers 409 with its size, and the checkpoint is sent again once with a proof
from there. A witness that refuses or cannot be reached is logged and skipped: the
checkpoint stands, with fewer cosignatures (a verifier's quorum decides if that is
enough).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

import psycopg

from projections.audit import checkpoints
from projections.audit.checkpoints import Checkpoint
from projections.audit.merkle_store import StoredTree, UnknownLeafError
from projections.audit.note import NoteError
from projections.audit.tlog_cosignature import CosignatureVerifier, verify_cosignature_line
from projections.audit.witness_protocol import (
    format_add_checkpoint,
    parse_cosignature_response,
    parse_size_body,
)

log = logging.getLogger(__name__)
TIMEOUT = 5.0


class WitnessConfig(Protocol):
    url: str
    key: str


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    import urllib.error  # here: bench/http.py shadows the stdlib's http for bench scripts
    import urllib.request

    request = urllib.request.Request(url.rstrip("/") + "/add-checkpoint", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def publish(
    conn: psycopg.Connection[Any], checkpoint: Checkpoint, witnesses: Sequence[WitnessConfig]
) -> Checkpoint:
    """Ask each witness to cosign `checkpoint` (stored); answer it with every
    cosignature that verified."""
    lines = list(checkpoint.cosignatures)
    for witness in witnesses:
        try:
            verifier = CosignatureVerifier.from_vkey(witness.key)
            line = _cosigned(conn, checkpoint, witness.url, verifier)
        except (OSError, NoteError, UnknownLeafError) as error:
            log.warning("witness %s did not cosign: %s", witness.url, error)
            continue
        if line is not None:
            checkpoints.add_cosignature(conn, checkpoint, _name(verifier), line)
            lines = [x for x in lines if not x.startswith(f"— {verifier.name} ")] + [line]
    return replace(checkpoint, cosignatures=tuple(lines))


def _name(verifier: CosignatureVerifier) -> str:
    return f"{verifier.name}+{verifier.key_id:08x}"


def _cosigned(
    conn: psycopg.Connection[Any], checkpoint: Checkpoint, url: str, key: CosignatureVerifier
) -> str | None:
    """The witness's verified cosignature line, or None (logged)."""
    old = _size(conn, key)
    for _ in range(2):
        if old > checkpoint.tree_size:
            log.error(
                "witness %s has cosigned %s leaves, more than %s", url, old, checkpoint.tree_size
            )
            return None
        tree = StoredTree(conn)
        proof = tree.consistency(old, checkpoint.tree_size) if old > 0 else []
        body = format_add_checkpoint(old, proof, checkpoint.note.encode())
        status, answer = _post(url, body)
        if status == 409:
            old = parse_size_body(answer)
            continue
        if status != 200:
            log.warning("witness %s refused tree size %s: %s %s", url, checkpoint.tree_size,
                        status, answer.decode(errors="replace").strip())  # fmt: skip
            return None
        for signature in parse_cosignature_response(answer):
            if (signature.name, signature.key_id) == (key.name, key.key_id):
                verify_cosignature_line(checkpoint.body, signature.line, key)
                _remember(conn, key, checkpoint.tree_size)
                return signature.line
        log.warning("witness %s answered no cosignature by %s", url, _name(key))
        return None
    return None


def _size(conn: psycopg.Connection[Any], key: CosignatureVerifier) -> int:
    row = conn.execute(
        "SELECT tree_size FROM audit_witness_sizes WHERE witness = %s", (_name(key),)
    ).fetchone()
    return int(row[0]) if row else 0


def _remember(conn: psycopg.Connection[Any], key: CosignatureVerifier, size: int) -> None:
    conn.execute(
        "INSERT INTO audit_witness_sizes (witness, tree_size) VALUES (%s, %s)"
        " ON CONFLICT (witness) DO UPDATE SET tree_size = excluded.tree_size",
        (_name(key), size),
    )
