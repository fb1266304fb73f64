"""Retention (issue 16): the watcher erases the members inactive past the period, each
as its own recorded erasure, and no one else."""

from __future__ import annotations

import psycopg

from domain.application import Governance
from domain.commands.base import Meta
from domain.personal_data import ERASED
from projections.deadlines.index import DeadlineIndex
from projections.deadlines.watcher import RETENTION, DeadlineWatcher
from projections.views.members import Members
from projections.views.tickets import Tickets
from tests.fakes import FakeClock


def _register(governance: Governance, admin: Meta, grid: str, name: str) -> str:
    result = governance.register_member(
        admin, name=name, phone="13800138000", kind="resident", party_member=False,
        home_grid=grid,
    )  # fmt: skip
    return str(result.id)


def test_the_watcher_erases_members_inactive_past_the_retention_period(
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    clock: FakeClock,
    project,
    db: psycopg.Connection,
    database_url: str,
) -> None:
    idle = _register(governance, admin, tree["grid"], "久未活动")
    active = _register(governance, admin, tree["grid"], "常来活动")
    clock.advance(days=40)
    governance.report_in_member(admin, active, community=tree["community"])
    watcher = DeadlineWatcher(governance, DeadlineIndex(database_url, governance), 30)
    project(Members(), Tickets())
    report = watcher.run_once()
    assert report.recorded == {RETENTION: 1}
    erased = [type(e).__name__ for e in governance.events.get(governance.member(idle).id)]
    assert erased[-1] == "Erased"
    (event,) = [e for e in governance.events.get(governance.member(idle).id) if
                type(e).__name__ == "Erased"]  # fmt: skip
    assert event.legal_basis == "retention: no activity for 30 days (PIPL Art. 47(1)2)"
    assert (event.actor_id, event.actor_role) == ("system", "system")
    assert not governance.member(active).erased
    project(Members(), Tickets())
    rows = dict(db.execute("SELECT id::text, name FROM members").fetchall())
    assert rows == {idle: ERASED, active: "常来活动"}
    assert watcher.run_once().recorded == {}  # each erasure once
    assert db.execute("SELECT count(*) FROM data_keys WHERE key IS NULL").fetchone() == (1,)


def test_no_one_is_erased_while_the_members_table_lags_behind_the_log(
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    clock: FakeClock,
    project,
    db: psycopg.Connection,
    database_url: str,
) -> None:
    """The table says "inactive" for a member whose activity it has not applied yet: the
    round holds back, and erases only once the table has caught up (then, no one)."""
    member = _register(governance, admin, tree["grid"], "滞后也在活动")
    project(Members(), Tickets())
    clock.advance(days=40)
    governance.report_in_member(admin, member, community=tree["community"])  # not projected
    index = DeadlineIndex(database_url, governance)
    watcher = DeadlineWatcher(governance, index, 30, retention_wait=0.2)
    report = watcher.run_once()
    assert report.retention_held_back and report.recorded == {}
    assert not governance.member(member).erased
    project(Members(), Tickets())
    report = watcher.run_once()
    assert not report.retention_held_back and report.recorded == {}
    assert not governance.member(member).erased
