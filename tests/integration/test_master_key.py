"""Another master key than the one the data keys were wrapped under (review of issue
16): a configuration error said loudly, at start and by the projections, never an event
marked as poison."""

from __future__ import annotations

import base64
import os

import psycopg
import pytest

from api.runtime.build import build_governance
from api.runtime.settings import Settings
from domain.application import Governance
from domain.commands.base import Meta
from projections.engine import tracking
from projections.engine.runner import Runner, Target
from projections.store import keys
from projections.views.members import Members


def test_another_master_key_is_a_configuration_error_not_a_poison_event(
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    db: psycopg.Connection,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    governance.register_member(
        admin, name="主密钥测试", phone="13500135000", kind="resident", party_member=False,
        home_grid=tree["grid"],
    )  # fmt: skip
    right = keys.keyring().master
    other = keys.Keyring(os.urandom(32))
    other_text = base64.b64encode(other.master or b"").decode()
    store = keys.PostgresKeyStore(database_url, other)
    try:
        with pytest.raises(keys.KeyUnavailableError, match="master key"):
            store.check()
    finally:
        store.close()
    monkeypatch.setenv("GRIDLEDGER_PERSONAL_DATA_MASTER_KEY", other_text)
    monkeypatch.setenv("GRIDLEDGER_DATABASE_URL", database_url)
    try:
        with pytest.raises(keys.KeyUnavailableError, match="master key"):
            build_governance(Settings(), database_url)
        runner = Runner(database_url, governance.mapper, [Target(Members())])
        try:
            with pytest.raises(keys.KeyUnavailableError):
                runner.run_until_caught_up()
        finally:
            runner.close()
        state = tracking.current(db, "members")
        assert state is not None and state.status != "failed" and state.position == 0
    finally:
        keys.configure(right)
    runner = Runner(database_url, governance.mapper, [Target(Members())])
    try:
        runner.run_until_caught_up()  # the right key again: the same events apply
    finally:
        runner.close()
    assert db.execute("SELECT count(*) FROM members").fetchone() == (1,)
