"""`gridledger witness`, the real process on 127.0.0.1: it cosigns each consistent
extension of the log (the server submits its checkpoints), refuses a fork (409) and a
proof that does not hold (422), keeps its state across a restart; verifiers apply a
policy of at least K witness keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.runtime.settings import Witness as WitnessSetting
from domain.application import Governance
from domain.commands.base import Meta
from projections.audit import bundle, checkpoints
from projections.audit.bundle_verify import Policy, verify_bundle
from projections.audit.merkle_log import MerkleLog
from projections.audit.note import Ed25519Signer, sign_note
from projections.audit.signer import LogSigner, sign_or_record
from projections.audit.tlog_checkpoint import format_checkpoint
from projections.audit.tlog_cosignature import CosignerKey
from projections.audit.witness_protocol import format_add_checkpoint
from projections.audit.witnessing import publish

ROOT = Path(__file__).resolve().parents[2]
LOG = Ed25519Signer.generate("witnessed.example/log")


class Running:
    def __init__(self, tmp: Path, key: CosignerKey) -> None:
        self.key_file = tmp / "witness.key"
        if not self.key_file.exists():
            self.key_file.write_text(key.skey() + "\n")
        self.state = tmp / "witness.state"
        self.key = key
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> Running:
        args = [
            sys.executable, "-m", "api.cli.main", "witness", "--key-file", str(self.key_file),
            "--state-file", str(self.state), "--log", LOG.vkey(), "--port", "0",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == f"witness {self.key.vkey()}"
        self.url = self.process.stdout.readline().strip().removeprefix("listening on ")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def setting(self) -> WitnessSetting:
        return WitnessSetting(url=self.url, key=self.key.vkey())

    def post(self, body: bytes) -> tuple[int, bytes, str]:
        request = urllib.request.Request(self.url + "/add-checkpoint", data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read(), response.headers["Content-Type"]
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers["Content-Type"]


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[Running]:
    running = Running(tmp_path, CosignerKey.generate("witness.example/w1")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def signer(tmp_path: Path) -> LogSigner:
    return LogSigner(LOG, tmp_path / "signer_state")


def _grow(governance: Governance, admin: Meta, project, n: int) -> None:
    for i in range(n):
        governance.register_member(
            admin, name=f"居民{i}", phone="13800138000", kind="resident",
            party_member=False, home_grid=None,
        )  # fmt: skip
    project(MerkleLog())


def test_the_witness_cosigns_each_consistent_extension(
    witness, signer, governance, admin, project, db: psycopg.Connection
) -> None:
    _grow(governance, admin, project, 3)
    first = publish(db, sign_or_record(db, signer), [witness.setting()])
    assert len(first.cosignatures) == 1
    _grow(governance, admin, project, 4)
    second = publish(db, sign_or_record(db, signer), [witness.setting()])
    assert second.cosignatures[0].startswith("— witness.example/w1 ")
    stored = checkpoints.latest(db)
    assert stored.cosignatures == second.cosignatures
    opened = checkpoints.open_checkpoint(stored, LOG.verifier(), [witness.key.verifier()], 1)
    assert opened.witnesses == (f"witness.example/w1+{witness.key.key_id:08x}",)
    lines = list(bundle.export(db, signer, 1, None))
    policy = Policy(LOG.verifier(), [witness.key.verifier()], 1)
    report = verify_bundle(lines, policy)
    assert report.ok, report.problems
    assert report.witnesses == opened.witnesses
    other = CosignerKey.generate("witness.example/w2").verifier()
    strict = Policy(LOG.verifier(), [witness.key.verifier(), other], 2)
    assert verify_bundle(lines, strict).problems == [
        f"the checkpoint of size {stored.tree_size} is cosigned by 1 of the trusted"
        " witnesses, fewer than the 2 required"
    ]


def test_a_forked_checkpoint_is_refused_and_the_state_survives_a_restart(
    witness, signer, governance, admin, project, db: psycopg.Connection
) -> None:
    _grow(governance, admin, project, 3)
    made = publish(db, sign_or_record(db, signer), [witness.setting()])
    size = made.tree_size
    fork = sign_note(format_checkpoint(LOG.name, size, b"\x09" * 32), [LOG])
    status, body, kind = witness.post(format_add_checkpoint(size, [], fork))
    assert (status, body, kind) == (409, f"{size}\n".encode(), "text/x.tlog.size")
    bigger = sign_note(format_checkpoint(LOG.name, size + 5, b"\x09" * 32), [LOG])
    status, body, _ = witness.post(format_add_checkpoint(size, [b"\x01" * 32] * 3, bigger))
    assert status == 422 and b"proof fails" in body
    stale = sign_note(format_checkpoint(LOG.name, size + 5, b"\x09" * 32), [LOG])
    assert witness.post(format_add_checkpoint(0, [], stale))[:2] == (409, f"{size}\n".encode())
    stranger = Ed25519Signer.generate(LOG.name)
    unsigned = sign_note(format_checkpoint(LOG.name, size, made.root_hash), [stranger])
    assert witness.post(format_add_checkpoint(size, [], unsigned))[0] == 403
    unknown = Ed25519Signer.generate("other.example/log")
    elsewhere = sign_note(format_checkpoint(unknown.name, 1, b"\x02" * 32), [unknown])
    assert witness.post(format_add_checkpoint(0, [], elsewhere))[0] == 404
    witness.stop()
    witness.start()
    assert witness.post(format_add_checkpoint(0, [], stale))[:2] == (409, f"{size}\n".encode())


def test_the_server_submits_its_checkpoints_and_verify_applies_the_policy(
    witness, governance, admin, project, tmp_path, database_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDLEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDLEDGER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GRIDLEDGER_AUDIT_SIGNING_KEY", LOG.skey())
    monkeypatch.setenv("GRIDLEDGER_AUDIT_WITNESSES", f"[{witness.setting().model_dump_json()}]")
    cli = CliRunner()
    _grow(governance, admin, project, 2)
    signed = cli.invoke(app, ["checkpoint"])
    assert signed.exit_code == 0, signed.output
    assert "\n— witness.example/w1 " in json.loads(signed.output)["note"]
    verified = cli.invoke(app, ["verify", "--witness", witness.key.vkey()])
    assert verified.exit_code == 0, verified.output
    assert "witness policy: at least 1 of 1 keys" in verified.output
    other = CosignerKey.generate("witness.example/w2").vkey()
    both = ["verify", "--witness", witness.key.vkey(), "--witness", other]
    refused = cli.invoke(app, [*both, "--witnesses-required", "2"])
    assert refused.exit_code == 1
    assert "fewer than the 2 required" in refused.output


def test_the_workers_submit_each_new_checkpoint(
    witness, signer, governance, admin, database_url, db: psycopg.Connection
) -> None:
    from api.runtime.workers import Workers
    from tests.integration.test_checkpoint_worker import signed_by_workers

    workers = Workers(
        database_url, governance, 30.0, checkpoints=(signer, 1), witnesses=[witness.setting()]
    )
    latest = signed_by_workers(
        workers, governance, admin, db, 3, lambda c: c.tree_size == 3 and bool(c.cosignatures)
    )
    assert latest is not None and latest.tree_size == 3
    checkpoints.open_checkpoint(latest, LOG.verifier(), [witness.key.verifier()], 1)
