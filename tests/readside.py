"""Helpers for the query-table tests."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row


def all_rows(db: psycopg.Connection, table: str, order: str) -> list[dict[str, Any]]:
    """Every row of `table` (a view or a generation's table) as dicts, in `order`."""
    query = sql.SQL("SELECT * FROM {} ORDER BY {}").format(sql.Identifier(table), sql.SQL(order))
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(query).fetchall()
