"""DDL for the tables gridledger owns beside the library's, applied by `migrate`.

Each module that owns tables registers its statements here at import time; every
statement is idempotent (IF NOT EXISTS), so `migrate` can run any number of times.
"""

from __future__ import annotations

import psycopg

_STATEMENTS: list[tuple[str, str]] = []


def register(owner: str, *statements: str) -> None:
    _STATEMENTS.extend((owner, s) for s in statements)


def apply(url: str) -> list[str]:
    """Apply every registered statement; answer the owners touched."""
    import projections.audit.checkpoints
    import projections.audit.signer
    import projections.audit.witnessing
    import projections.deadlines.index
    import projections.engine.tracking  # noqa: F401

    owners: list[str] = []
    with psycopg.connect(url) as conn:
        for owner, statement in _STATEMENTS:
            conn.execute(statement)  # type: ignore[arg-type]
            if owner not in owners:
                owners.append(owner)
    return owners
