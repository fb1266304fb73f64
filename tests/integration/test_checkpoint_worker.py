"""The API's background workers sign a checkpoint each time the log has grown enough."""

from __future__ import annotations

import time

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.runtime.workers import Workers
from domain.application import Governance
from domain.commands.base import Meta
from projections.audit import checkpoints


def test_workers_sign_a_checkpoint_once_the_log_has_grown_enough(
    governance: Governance, admin: Meta, database_url: str, db: psycopg.Connection
) -> None:
    key = Ed25519PrivateKey.generate()
    workers = Workers(database_url, governance, 30.0, checkpoints=(key, 3))
    workers.start()
    try:
        for i in range(4):
            governance.register_member(
                admin, name=f"m{i}", phone="13800138000", kind="resident",
                party_member=False, home_grid=None,
            )  # fmt: skip
        deadline = time.monotonic() + 20
        latest = None
        while time.monotonic() < deadline:
            latest = checkpoints.latest(db)
            if latest is not None and latest.tree_size == 4:
                break
            time.sleep(0.1)
    finally:
        workers.stop()
    assert latest is not None and latest.tree_size == 4
    assert latest.verify(key.public_key())
    with db.transaction():
        assert checkpoints.make_if_due(db, key, 3) is None  # grown by 0 since then
