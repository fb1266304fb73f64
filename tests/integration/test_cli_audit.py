"""`gridledger checkpoint`, `verify`, `export` and `verify --bundle` / `--since-checkpoint`."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli.main import app
from domain.application import Governance
from domain.commands.base import Meta
from projections.audit.merkle_log import MerkleLog


@pytest.fixture
def cli(database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("GRIDLEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDLEDGER_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def test_an_auditor_verifies_exports_and_catches_tampering(
    cli: CliRunner,
    governance: Governance,
    admin: Meta,
    tree,
    project,
    db: psycopg.Connection,
    tmp_path,
) -> None:
    project(MerkleLog())
    kept = tmp_path / "kept.json"
    signed = cli.invoke(app, ["checkpoint"])
    assert signed.exit_code == 0, signed.output
    kept.write_text(signed.output)
    governance.register_member(
        admin, name="王五", phone="13700137000", kind="retired", party_member=True, home_grid=None
    )
    project(MerkleLog())
    assert cli.invoke(app, ["checkpoint"]).exit_code == 0
    verified = cli.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
    assert "OK 8 events verified" in verified.output
    grown = cli.invoke(app, ["verify", "--since-checkpoint", str(kept)])
    assert grown.exit_code == 0, grown.output
    out = tmp_path / "bundle.jsonl"
    assert cli.invoke(app, ["export", "--from", "3", "--out", str(out)]).exit_code == 0
    offline = cli.invoke(app, ["verify", "--bundle", str(out)])
    assert offline.exit_code == 0, offline.output
    lines = out.read_text().splitlines()
    out.write_text("\n".join([*lines[:2], *lines[3:]]))  # one event left out
    dropped = cli.invoke(app, ["verify", "--bundle", str(out)])
    assert dropped.exit_code == 1
    assert "FAIL leaf 3 is missing" in dropped.output
    db.execute(
        "UPDATE governance_events SET state = replace(convert_from(state, 'UTF8'),"
        " 'retired', 'retiree')::bytea WHERE notification_id = 8"
    )
    tampered = cli.invoke(app, ["verify"])
    assert tampered.exit_code == 1
    assert "FAIL position 8 (Member.Registered of" in tampered.output
