"""Composed statements rendered to their text once."""

from __future__ import annotations

from typing import Any

from psycopg import sql


def rendered(statement: sql.Composable, context: Any = None) -> sql.SQL:
    """`statement` rendered to its text once: psycopg renders a composed statement
    again at every execution, walking its parts."""
    return sql.SQL(statement.as_string(context))
