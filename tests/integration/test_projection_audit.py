from __future__ import annotations

import psycopg

from domain.application import Governance
from domain.commands.base import Meta
from projections.audit.journal import AuditJournal


def test_the_journal_has_one_row_per_event_in_global_order(
    governance: Governance, admin: Meta, tree: dict[str, str], project, db: psycopg.Connection
) -> None:
    governance.register_member(
        admin,
        name="王五",
        phone="13700137000",
        kind="retired",
        party_member=True,
        home_grid=tree["grid"],
    )
    head = governance.recorder.max_notification_id()
    project(AuditJournal())
    rows = db.execute(
        "SELECT position, aggregate_type, event_type, actor_id, actor_role, payload"
        " FROM audit_journal ORDER BY position"
    ).fetchall()
    assert [r[0] for r in rows] == list(range(1, head + 1))
    last = rows[-1]
    assert last[1:5] == ("Member", "Registered", "admin-1", "admin")
    assert last[5]["name"]["enc"] == "v1"  # the journal holds what is stored: sealed (issue 16)
    assert "王五" not in str(last[5]) and "13700137000" not in str(last[5])
    assert "actor_id" not in last[5]
