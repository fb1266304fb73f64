"""Shared fixtures.

Integration tests talk to a real PostgreSQL server: the one named by
`GRIDLEDGER_TEST_DATABASE_URL`, else the embedded server (started on demand in
`.gridledger/test-pg`). Each pytest worker gets its own fresh database.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from api.runtime.database import embedded_url, library_env, migrate
from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor
from domain.personal_data import PersonalData
from projections.store.keys import MASTER_ENV, PostgresKeyStore
from tests.fakes import FakeClock

ROOT = Path(__file__).resolve().parent.parent

# One master key for every process a test run starts (the API's settings, projection
# workers spawned by rebuilds and tests), so that what one wraps, the others unwrap.
os.environ.setdefault(MASTER_ENV, base64.b64encode(os.urandom(32)).decode())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath).replace(os.sep, "/")
        if "tests/integration" in path or "tests/api" in path:
            item.add_marker(pytest.mark.integration)
        elif "tests/faults" in path:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def server_url() -> str:
    url = os.environ.get("GRIDLEDGER_TEST_DATABASE_URL")
    return url or embedded_url(ROOT / ".gridledger" / "test")


def create_database(server_url: str, name: str) -> str:
    """A fresh, migrated database `name` on the server (dropped first if it exists)."""
    drop_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    migrate(url)
    return url


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    name = f"gridledger_test_{os.getpid()}"
    yield create_database(server_url, name)
    drop_database(server_url, name)


def _truncate_all(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        if tables:
            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in tables)
                )
            )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def governance(database_url: str, clock: FakeClock) -> Iterator[Governance]:
    _truncate_all(database_url)
    app = Governance(
        env=library_env(database_url),
        clock=clock,
        personal=PersonalData(PostgresKeyStore(database_url)),
    )
    yield app
    app.close()


@pytest.fixture
def admin() -> Meta:
    return Meta(actor=Actor(id="admin-1", role="admin"))


@pytest.fixture
def tree(governance: Governance, admin: Meta) -> dict[str, str]:
    """A small district: one street, two communities, three grids."""
    nodes = [
        ("HG", "district", "海港区", None),
        ("HG-WH", "street", "文化路街道", "HG"),
        ("HG-WH-BH", "community", "北环社区", "HG-WH"),
        ("HG-WH-BH-01", "grid", "北环一网格", "HG-WH-BH"),
        ("HG-WH-BH-02", "grid", "北环二网格", "HG-WH-BH"),
        ("HG-WH-NS", "community", "南山社区", "HG-WH"),
        ("HG-WH-NS-01", "grid", "南山一网格", "HG-WH-NS"),
    ]
    for code, kind, name, parent in nodes:
        governance.define_jurisdiction(admin, code=code, kind=kind, name=name, parent=parent)
    return {
        "district": "HG",
        "street": "HG-WH",
        "community": "HG-WH-BH",
        "grid": "HG-WH-BH-01",
        "grid2": "HG-WH-BH-02",
        "other_community": "HG-WH-NS",
        "other_grid": "HG-WH-NS-01",
    }


@pytest.fixture
def project(governance: Governance, database_url: str):
    """Run the given projections until they have applied the whole log."""
    from projections.engine.batch import Projection
    from projections.engine.runner import Runner, Target

    def run(*projections: Projection) -> int:
        runner = Runner(database_url, governance.mapper, [Target(p) for p in projections])
        try:
            return runner.run_until_caught_up()
        finally:
            runner.close()

    return run


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection for reading query tables (autocommit)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn
