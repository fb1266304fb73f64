"""Logs recorded before sealing existed (issue 16): their clear events still load, and
erasing such a member still scrubs every query table (the log keeps what it held)."""

from __future__ import annotations

import psycopg

from api.runtime.database import library_env
from domain.application import Governance
from domain.commands.base import Meta
from domain.personal_data import ERASED
from projections.views.members import Members
from projections.views.tickets import Tickets
from tests.fakes import FakeClock


def test_a_member_recorded_in_clear_loads_and_erasure_scrubs_the_tables(
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    clock: FakeClock,
    project,
    db: psycopg.Connection,
    database_url: str,
) -> None:
    old = Governance(env=library_env(database_url), clock=clock)  # as before issue 16
    member = old.register_member(
        admin, name="旧格式居民", phone="13600136000", kind="resident", party_member=False,
        home_grid=tree["grid"],
    ).id  # fmt: skip
    ticket = old.report_ticket(
        admin, category="c", description="旧格式描述", grid=tree["grid"], source="resident",
        reporter_member_id=member,
    ).id  # fmt: skip
    old.close()
    assert governance.member(member).name == "旧格式居民"
    assert governance.member(member).data_key is None
    project(Members(), Tickets())
    row = db.execute("SELECT name, phone FROM members WHERE id = %s", (member,)).fetchone()
    assert row == ("旧格式居民", "13600136000")
    governance.erase_member(admin, member, legal_basis="PIPL Art. 47(1)")
    project(Members(), Tickets())
    row = db.execute("SELECT name, phone FROM members WHERE id = %s", (member,)).fetchone()
    assert row == (ERASED, ERASED)
    described = db.execute("SELECT description FROM tickets WHERE id = %s", (ticket,)).fetchone()
    assert described == (ERASED,)
    stored = db.execute(
        "SELECT count(*) FROM governance_events WHERE position(convert_to('旧格式居民', 'UTF8')"
        " IN state) > 0"
    ).fetchone()
    assert stored == (1,)  # the documented limit: a clear event cannot be shredded
