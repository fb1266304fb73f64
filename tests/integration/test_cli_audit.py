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


def _vkey(cli: CliRunner) -> str:
    from api.runtime.settings import Settings
    from api.runtime.signing import signing_key

    return signing_key(Settings()).vkey()


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
    assert "OK 8 events verified; 2 checkpoints hold (the latest of 8 leaves)" in verified.output
    grown = cli.invoke(app, ["verify", "--since-checkpoint", str(kept)])
    assert grown.exit_code == 0, grown.output
    out = tmp_path / "bundle.jsonl"
    exported = cli.invoke(
        app, ["export", "--from", "3", "--to", "7", "--since", "7", "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    unpinned = cli.invoke(app, ["verify", "--bundle", str(out)])
    assert unpinned.exit_code == 2
    assert "pin the log's key" in unpinned.output
    vkey = _vkey(cli)
    key_file = tmp_path / "log.vkey"
    key_file.write_text(vkey + "\n")
    offline = cli.invoke(
        app,
        ["verify", "--bundle", str(out), "--public-key-file", str(key_file),
         "--since-checkpoint", str(kept)],
    )  # fmt: skip
    assert offline.exit_code == 0, offline.output
    assert f"key checked: {vkey}" in offline.output
    assert (
        "OK positions 3..7: 5 events at positions 3..7, leaves 2..6, of the tree of 8"
        in offline.output
    )
    assert "it extends the kept checkpoint of 7" in offline.output
    lines = out.read_text().splitlines()
    out.write_text("\n".join([*lines[:2], *lines[3:]]))  # one event left out
    dropped = cli.invoke(app, ["verify", "--bundle", str(out), "--public-key", vkey])
    assert dropped.exit_code == 1
    assert "FAIL leaf 3 is missing" in dropped.output
    db.execute(
        "UPDATE governance_events SET state = replace(convert_from(state, 'UTF8'),"
        " 'retired', 'retiree')::bytea WHERE notification_id = 8"
    )
    tampered = cli.invoke(app, ["verify"])
    assert tampered.exit_code == 1
    assert "FAIL position 8 (Member.Registered of" in tampered.output


def test_the_signing_key_can_live_in_a_file_of_its_own(
    cli: CliRunner, project, tree, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from projections.audit.note import Ed25519Signer

    key = Ed25519Signer.generate("audit.example/log")
    path = tmp_path / "elsewhere" / "log.key"
    path.parent.mkdir()
    path.write_text(key.skey() + "\n")
    monkeypatch.setenv("GRIDLEDGER_AUDIT_SIGNING_KEY_FILE", str(path))
    project(MerkleLog())
    signed = cli.invoke(app, ["checkpoint"])
    assert signed.exit_code == 0, signed.output
    assert "audit.example/log\n7\n" in signed.output.replace("\\n", "\n")
    assert (
        (tmp_path / "elsewhere" / "audit_signer_state")
        .read_text()
        .startswith("audit.example/log\n7\n")
    )
    assert not (tmp_path / "data" / "audit_signing_key").exists()
    assert cli.invoke(app, ["verify", "--public-key", key.vkey()]).exit_code == 0
