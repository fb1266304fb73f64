"""Helpers the write-side integration tests share: positions, transactions, refusals."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from psycopg import sql

from domain.application import Governance
from domain.errors import DomainError


def max_position(gov: Governance) -> int:
    """The global position of the last event recorded (0: none)."""
    return gov.recorder.max_notification_id() or 0


def transactions_after(gov: Governance, database_url: str, position: int) -> set[str]:
    """The PostgreSQL transactions that wrote the events after `position`."""
    table = sql.Identifier(gov.recorder.events_table_name)
    query = sql.SQL("SELECT DISTINCT xmin::text FROM {} WHERE notification_id > %s").format(table)
    with psycopg.connect(database_url) as conn:
        return {row[0] for row in conn.execute(query, (position,))}


def assert_records_nothing(
    gov: Governance, error: type[DomainError], command: Callable[[], object]
) -> None:
    """`command` is refused with `error` and records no event."""
    before = max_position(gov)
    with pytest.raises(error):
        command()
    assert max_position(gov) == before
