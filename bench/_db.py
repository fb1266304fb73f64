"""A fresh, migrated database for a benchmark run, on the configured server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.database import embedded_url, migrate  # noqa: E402


def server_url() -> str:
    return os.environ.get("GRIDLEDGER_BENCH_DATABASE_URL") or embedded_url(
        ROOT / ".gridledger" / "bench"
    )


def fresh_database(name: str) -> str:
    """Create (or re-create) database `name` and migrate it; answer its URL."""
    server = server_url()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server)
    params["dbname"] = name
    url = make_conninfo(**params)
    migrate(url)
    return url
