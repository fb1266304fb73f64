"""A fresh, migrated database for a benchmark run, on the configured server."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.runtime.database import embedded_url, migrate  # noqa: E402


def server_url() -> str:
    return os.environ.get("GRIDLEDGER_BENCH_DATABASE_URL") or embedded_url(
        ROOT / ".gridledger" / "bench"
    )


def database_url(name: str) -> str:
    """The URL of database `name` on the configured server."""
    params: dict[str, Any] = conninfo_to_dict(server_url())
    params["dbname"] = name
    return make_conninfo(**params)


def drop_database(name: str) -> None:
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def fresh_database(name: str, template: str | None = None) -> str:
    """Create (or re-create) database `name`, empty or as a copy of `template` (nobody
    may be connected to it meanwhile), and migrate it; answer its URL."""
    drop_database(name)
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(create)
    url = database_url(name)
    migrate(url)
    return url


def one_row(cursor: psycopg.Cursor[Any]) -> tuple[Any, ...]:
    """The row of a query that always answers one (a count, a min or max)."""
    row = cursor.fetchone()
    if row is None:
        raise LookupError("the query answered no row")
    return row
