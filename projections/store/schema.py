"""DDL for the tables gridledger owns beside the library's and the projections', applied
by `migrate`.

Each module that owns such tables holds its statements as `DDL`; the owners are listed
explicitly, in one place, by `projections.registry.SCHEMA` (the store imports none of
them: it stands below every other room). Every statement is idempotent (IF NOT
EXISTS), so `migrate` can run any number of times.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

Owner = tuple[str, Sequence[str]]
"""An owner's name and its DDL statements."""


def apply(url: str, owners: Sequence[Owner]) -> list[str]:
    """Apply every owner's statements, in order; answer the owners touched."""
    touched: list[str] = []
    with psycopg.connect(url) as conn:
        for owner, statements in owners:
            for statement in statements:
                conn.execute(statement)
            if statements and owner not in touched:
                touched.append(owner)
    return touched
