"""The log's signer: it signs only a tree that extends the last checkpoint it signed.

Before signing the stored tree (size n, root r) the signer checks an RFC 9162
consistency proof, taken from the stored tree, from each checkpoint it must extend:

- the last checkpoint *this signer* signed, kept in its state file (outside the
  database, beside the key: deleting or rewriting the checkpoint table does not make
  the signer forget);
- the latest checkpoint in the database that its key signed.

A tree that is smaller, or whose proof does not verify (an event edited and the
Merkle projection rebuilt, a checkpoint row forged), is refused: `RefusedError`, logged
at ERROR, and written to `audit_signer_refusals`, which `/readyz` (503) and `/metrics`
(`gridledger_checkpoint_refused`) report until a checkpoint is signed again.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from projections.audit import checkpoints
from projections.audit.checkpoints import Checkpoint, CheckpointError, open_checkpoint
from projections.audit.merkle_store import StoredTree
from projections.audit.merkle_tree import Hash, verify_consistency
from projections.audit.note import Ed25519Signer, Ed25519Verifier, sign_note
from projections.audit.tlog_checkpoint import format_checkpoint

log = logging.getLogger(__name__)


class RefusedError(Exception):
    """Raised when the stored tree is not a consistent extension of a signed checkpoint."""

    def __init__(self, tree_size: int, reason: str) -> None:
        super().__init__(reason)
        self.tree_size = tree_size
        self.reason = reason


@dataclass(frozen=True)
class LogSigner:
    """The log's key and the file where it remembers the last checkpoint it signed
    (None: remember nothing outside the database; tests only)."""

    key: Ed25519Signer
    state: Path | None = None

    @property
    def verifier(self) -> Ed25519Verifier:
        return self.key.verifier()

    def last_signed(self) -> Checkpoint | None:
        """The checkpoint in the state file, opened with this signer's key."""
        if self.state is None or not self.state.exists():
            return None
        text = self.state.read_text(encoding="utf-8")
        try:
            kept = checkpoints.from_note(text)
            return open_checkpoint(kept, self.verifier).checkpoint
        except CheckpointError as error:
            raise RefusedError(0, f"the signer's state file {self.state} is not a checkpoint"
                               f" it signed: {error}") from None  # fmt: skip

    def remember(self, checkpoint: Checkpoint) -> None:
        if self.state is None:
            return
        temporary = self.state.with_name(self.state.name + ".new")
        with temporary.open("w", encoding="utf-8") as file:
            file.write(checkpoint.note)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.state)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state file's lock: one signature at a time per state file."""
        if self.state is None:
            yield
            return
        self.state.parent.mkdir(parents=True, exist_ok=True)
        with self.state.with_name(self.state.name + ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def refusal(old_size: int, old_root: Hash, size: int, root: Hash, proof: list[Hash]) -> str | None:
    """Why a tree of `size` leaves and `root` does not extend a checkpoint of `old_size`
    and `old_root`, given the consistency `proof` between them; None if it does."""
    if size < old_size:
        return (
            f"the stored tree has {size} leaves, fewer than the {old_size} of the last signed"
            " checkpoint: the log shrank"
        )
    if old_size == 0 or verify_consistency(old_size, size, old_root, root, proof):
        return None
    if size == old_size:
        return f"the stored tree of {size} leaves has another root than the signed checkpoint"
    return (
        f"the stored tree of {size} leaves is not an append-only extension of the signed"
        f" checkpoint of {old_size} leaves (the consistency proof does not verify)"
    )


def sign(
    conn: psycopg.Connection[Any], signer: LogSigner, now: datetime | None = None
) -> Checkpoint:
    """Sign the stored tree's head after checking it extends every checkpoint it must;
    keep it; answer it (the latest one again if it already covers this very tree)."""
    with signer.locked():
        tree = StoredTree(conn)
        size = tree.size()
        last_ours = _latest_ours(conn, signer)
        known = {(c.tree_size, c.root_hash): c for c in (signer.last_signed(), last_ours) if c}
        olds = sorted({c.tree_size for c in known.values() if 0 < c.tree_size <= size})
        root, proofs = tree.root_with_proofs(size, olds)
        proof_from = dict(zip(olds, proofs, strict=True))
        for previous in known.values():  # the state file's and the database's, once each
            proof = proof_from.get(previous.tree_size, [])
            reason = refusal(previous.tree_size, previous.root_hash, size, root, proof)
            if reason is not None:
                raise RefusedError(size, reason + "; refusing to sign")
        conn.execute("DELETE FROM audit_signer_refusals")
        if last_ours is not None and (last_ours.tree_size, last_ours.root_hash) == (size, root):
            signer.remember(last_ours)
            return last_ours
        body = format_checkpoint(signer.key.name, size, root)
        note = sign_note(body, [signer.key]).decode()
        made = checkpoints.store(conn, Checkpoint(signer.key.name, size, root, note, _now(now)))
        signer.remember(made)
        return made


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def _latest_ours(conn: psycopg.Connection[Any], signer: LogSigner) -> Checkpoint | None:
    """The largest stored checkpoint that this signer's key signed (others are not its
    word: `gridledger verify` reports them)."""
    last = checkpoints.latest(conn)
    if last is None or _opens(last, signer):
        return last
    return next((c for c in reversed(checkpoints.stored(conn)) if _opens(c, signer)), None)


def _opens(checkpoint: Checkpoint, signer: LogSigner) -> bool:
    try:
        open_checkpoint(checkpoint, signer.verifier)
    except CheckpointError:
        return False
    return True


def record_refusal(conn: psycopg.Connection[Any], error: RefusedError) -> None:
    log.error("checkpoint refused at tree size %s: %s", error.tree_size, error.reason)
    conn.execute(
        "INSERT INTO audit_signer_refusals (refused_at, tree_size, reason) VALUES (now(), %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET refused_at = excluded.refused_at,"
        " tree_size = excluded.tree_size, reason = excluded.reason",
        (error.tree_size, error.reason),
    )


def sign_or_record(conn: psycopg.Connection[Any], signer: LogSigner) -> Checkpoint:
    """`sign` on an autocommit connection; a refusal is recorded, then raised."""
    try:
        with conn.transaction():
            return sign(conn, signer)
    except RefusedError as error:
        record_refusal(conn, error)
        raise


def refused(conn: psycopg.Connection[Any]) -> str | None:
    """The standing refusal, if the signer's last attempt was refused."""
    row = conn.execute(
        "SELECT tree_size, reason FROM audit_signer_refusals WHERE id = 1"
    ).fetchone()
    return None if row is None else f"checkpoint refused at tree size {row[0]}: {row[1]}"


def covering(conn: psycopg.Connection[Any], signer: LogSigner | None, size: int) -> Checkpoint:
    """The latest checkpoint if it covers at least `size` leaves, else a new one."""
    last = checkpoints.latest(conn)
    if last is not None and last.tree_size >= size:
        return last
    if signer is None:
        raise CheckpointError(f"no signed checkpoint covers {size} leaves yet")
    return sign_or_record(conn, signer)


def make_if_due(conn: psycopg.Connection[Any], signer: LogSigner, every: int) -> Checkpoint | None:
    """Sign the stored tree's head if it has grown by at least `every` leaves since the
    latest checkpoint (or there is none and the tree is not empty); else None."""
    size = StoredTree(conn).size()
    last = checkpoints.latest(conn)
    if size == 0 or size - (last.tree_size if last is not None else 0) < every:
        return None
    return sign_or_record(conn, signer)


def sign_while(
    url: str,
    signer: LogSigner,
    every: int,
    stopping: threading.Event,
    poll: float = 1.0,
    published: Callable[[psycopg.Connection[Any], Checkpoint], None] | None = None,
) -> None:
    """Until `stopping`, sign a checkpoint whenever the Merkle log has grown by `every`
    leaves since the latest one (checked every `poll` seconds, on one connection, made
    again after an error); `published` is called with each new one (the witnesses)."""
    conn: psycopg.Connection[Any] | None = None
    try:
        while not stopping.wait(poll):
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(url, autocommit=True)
                made = make_if_due(conn, signer, every)
                if made is not None:
                    log.info("signed checkpoint at tree size %s", made.tree_size)
                    if published is not None:
                        published(conn, made)
            except RefusedError:
                continue  # logged and recorded; tried again at the next round
            except psycopg.Error as error:
                log.warning("checkpoint not signed, retrying: %s", error)
                if conn is not None:
                    conn.close()
    finally:
        if conn is not None:
            conn.close()
