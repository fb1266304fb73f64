"""`gridledger project`, `rebuild` and `status` on a real database."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli.main import app
from domain.application import Governance
from domain.commands.base import Meta
from projections.engine import tracking


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("GRIDLEDGER_DATABASE_URL", database_url)
    return CliRunner()


def test_rebuild_shares_projections_among_workers_and_status_shows_them_caught_up(
    cli: CliRunner,
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    db: psycopg.Connection,
) -> None:
    governance.report_ticket(
        admin, category="环境卫生", description="楼道堆物", grid=tree["grid"], source="hotline"
    )
    head = governance.recorder.max_notification_id()
    result = cli.invoke(app, ["rebuild", "tickets", "audit", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "tickets generation 1 is active" in result.output
    assert "audit generation 1 is active" in result.output
    states = {s.name: s for s in tracking.states(db, ["tickets", "audit"])}
    assert {(s.status, s.position) for s in states.values()} == {("active", head)}
    assert db.execute("SELECT status FROM tickets").fetchall() == [("reported",)]

    status = cli.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    assert "tickets" in status.output and "audit" in status.output


def test_rebuild_refuses_an_unknown_projection(cli: CliRunner, governance: Governance) -> None:
    result = cli.invoke(app, ["rebuild", "nonesuch"])
    assert result.exit_code != 0
    assert "unknown projection" in result.output
