"""`rebuild --verify`: shadow rebuilds compared with the live tables, then dropped."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli.main import app
from domain.application import Governance
from domain.commands.base import Meta
from projections.audit.journal import AuditJournal
from projections.audit.merkle_log import MerkleLog
from projections.engine import tracking
from projections.engine.runner import Runner, Target
from projections.engine.shadow import verify_rebuild
from projections.views.tickets import Tickets

PROJECTIONS = (Tickets(), AuditJournal(), MerkleLog())


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("GRIDLEDGER_DATABASE_URL", database_url)
    return CliRunner()


@pytest.fixture
def reported(governance: Governance, admin: Meta, tree: dict[str, str], project) -> list[str]:
    ids = [
        str(
            governance.report_ticket(
                admin,
                category="road",
                description=f"pothole {i}",
                grid=tree["grid"],
                source="hotline",
            ).id
        )
        for i in range(3)
    ]
    project(*PROJECTIONS)
    return ids


def tables(db: psycopg.Connection) -> set[str]:
    rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_a_clean_rebuild_matches_and_leaves_nothing_behind(
    database_url: str, governance: Governance, reported: list[str], db: psycopg.Connection
) -> None:
    before_tables, before_states = tables(db), tracking.states(db)
    for workers in (1, 2):
        assert verify_rebuild(database_url, governance.mapper, PROJECTIONS, workers=workers) == []
    assert tables(db) <= before_tables  # (leftovers of other tests may be reused, dropped)
    assert {"tickets_g1", "merkle_nodes_g1", "audit_journal_g1"} <= tables(db)
    assert tracking.states(db) == before_states


def test_an_edited_live_row_is_named_by_table_and_key(
    database_url: str, governance: Governance, reported: list[str], db: psycopg.Connection
) -> None:
    victim = sorted(reported)[1]
    db.execute("UPDATE tickets_g1 SET status = 'closed' WHERE id = %s", (victim,))
    db.execute("DELETE FROM merkle_leaves_g1 WHERE leaf_index = 4")
    found = verify_rebuild(database_url, governance.mapper, PROJECTIONS)
    assert {(d.projection, d.table) for d in found} == {
        ("tickets", "tickets"),
        ("merkle", "merkle_leaves"),
    }
    by_table = {d.table: d for d in found}
    assert str(by_table["tickets"].first_key["id"]) == victim
    assert by_table["merkle_leaves"].first_key == {"leaf_index": 4}
    assert victim in str(by_table["tickets"])


def test_the_shadow_stops_at_the_live_position_when_the_live_one_lags(
    database_url: str,
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    reported: list[str],
) -> None:
    governance.report_ticket(
        admin, category="road", description="not projected yet", grid=tree["grid"], source="hotline"
    )
    assert verify_rebuild(database_url, governance.mapper, PROJECTIONS) == []


def test_a_projection_never_run_is_reported(
    database_url: str, governance: Governance, reported: list[str]
) -> None:
    from projections.views.pledges import Pledges

    (found,) = verify_rebuild(database_url, governance.mapper, [Pledges()])
    assert found.projection == "pledges" and found.table is None


def test_the_until_bound_stops_a_runner_there(
    database_url: str, governance: Governance, reported: list[str], db: psycopg.Connection
) -> None:
    with psycopg.connect(database_url) as conn, conn.transaction():
        generation = tracking.create_generation(conn, Tickets(), "building")
    runner = Runner(database_url, governance.mapper, [Target(Tickets(), generation)], batch_size=2)
    try:
        runner.run_until_caught_up(until=5)
    finally:
        runner.close()
    (state,) = [s for s in tracking.states(db, ["tickets"]) if s.generation == generation]
    assert state.position == 5


def test_cli_verify_exits_non_zero_naming_the_table_and_key(
    cli: CliRunner, reported: list[str], db: psycopg.Connection
) -> None:
    ok = cli.invoke(app, ["rebuild", "tickets", "merkle", "--verify", "--workers", "1"])
    assert ok.exit_code == 0, ok.output
    assert "matches the live tables" in ok.output
    assert tracking.current(db, "tickets").generation == 1

    victim = reported[0]
    db.execute("UPDATE tickets_g1 SET status = 'closed' WHERE id = %s", (victim,))
    bad = cli.invoke(app, ["rebuild", "tickets", "--verify"])
    assert bad.exit_code == 1, bad.output
    assert "tickets.tickets" in bad.output and victim in bad.output
