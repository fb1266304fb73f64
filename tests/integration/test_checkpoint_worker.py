"""The API's background workers sign a checkpoint each time the log has grown enough."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from api.runtime.workers import Workers
from domain.application import Governance
from domain.commands.base import Meta
from projections.audit import checkpoints
from projections.audit.checkpoints import Checkpoint, open_checkpoint
from projections.audit.note import Ed25519Signer
from projections.audit.signer import LogSigner, make_if_due


def signed_by_workers(
    workers: Workers,
    governance: Governance,
    admin: Meta,
    db: psycopg.Connection,
    events: int,
    done: Callable[[Checkpoint], bool],
) -> Checkpoint | None:
    """Record `events` members with `workers` running; the latest checkpoint once it is
    `done` (or after 20 s)."""
    workers.start()
    try:
        for i in range(events):
            governance.register_member(
                admin, name=f"m{i}", phone="13800138000", kind="resident",
                party_member=False, home_grid=None,
            )  # fmt: skip
        deadline = time.monotonic() + 20
        latest = None
        while time.monotonic() < deadline:
            latest = checkpoints.latest(db)
            if latest is not None and done(latest):
                break
            time.sleep(0.1)
    finally:
        workers.stop()
    return latest


def test_workers_sign_a_checkpoint_once_the_log_has_grown_enough(
    governance: Governance, admin: Meta, database_url: str, db: psycopg.Connection, tmp_path
) -> None:
    key = LogSigner(Ed25519Signer.generate("test.example/log"), tmp_path / "state")
    workers = Workers(database_url, governance, 30.0, checkpoints=(key, 3))
    latest = signed_by_workers(workers, governance, admin, db, 4, lambda c: c.tree_size == 4)
    assert latest is not None and latest.tree_size == 4
    open_checkpoint(latest, key.verifier)
    assert make_if_due(db, key, 3) is None  # grown by 0 since then
