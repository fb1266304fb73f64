"""The deadline watcher records each missed deadline exactly once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor
from projections.deadlines.index import DeadlineIndex
from projections.deadlines.watcher import DeadlineWatcher
from tests.fakes import FakeClock
from tests.writeside import max_position

STAFF = Meta(actor=Actor("staff-1", "community_staff"))


def watcher_for(governance: Governance, database_url: str) -> DeadlineWatcher:
    return DeadlineWatcher(governance, DeadlineIndex(database_url, governance))


def event_types(governance: Governance, aggregate_id: object) -> list[str]:
    return [type(e).__name__ for e in governance.events.get(aggregate_id)]


def watched_to(db) -> int:
    row = db.execute("SELECT max(position) FROM deadline_watch_position").fetchone()
    return int(row[0] or 0)


def report(governance: Governance, grid: str) -> object:
    return governance.report_ticket(
        STAFF, category="环境卫生", description="楼道堆物", grid=grid, source="grid_worker"
    ).id


def test_nothing_is_recorded_before_a_deadline(
    governance: Governance, database_url: str, tree: dict[str, str], clock: FakeClock
) -> None:
    ticket_id = report(governance, tree["grid"])
    clock.advance(minutes=59)
    assert watcher_for(governance, database_url).run_once().total == 0
    assert event_types(governance, ticket_id) == ["Reported"]


def test_a_missed_response_is_recorded_once_however_often_the_watcher_runs(
    governance: Governance, database_url: str, tree: dict[str, str], clock: FakeClock
) -> None:
    ticket_id = report(governance, tree["grid"])
    answered = report(governance, tree["grid"])
    governance.accept_ticket(STAFF, answered)
    governance.dispatch_ticket(STAFF, answered, level="grid", assignee="worker-1")
    governance.respond_ticket(STAFF, answered, note="已到现场")
    clock.advance(hours=1, seconds=1)
    watcher = watcher_for(governance, database_url)
    assert watcher.run_once().recorded == {"ticket.response": 1}
    assert watcher.run_once().total == 0
    assert event_types(governance, ticket_id) == ["Reported", "ResponseOverdue"]
    assert governance.ticket(ticket_id).response_overdue is True
    assert "ResponseOverdue" not in event_types(governance, answered)


def test_a_missed_resolution_and_a_lapsed_pledge_are_recorded(
    governance: Governance, database_url: str, tree: dict[str, str], clock: FakeClock, admin: Meta
) -> None:
    ticket_id = report(governance, tree["grid"])
    member = governance.register_member(
        admin,
        name="李四",
        phone="13900139000",
        kind="in_service",
        party_member=True,
        home_grid=tree["grid"],
    ).id
    pledge_id = governance.make_pledge(
        admin,
        member_id=member,
        community=tree["community"],
        kind="service_item",
        title="每周探访独居老人",
        target_hours=Decimal("10"),
        due_on=clock.now.date(),
    ).id
    governance.accept_pledge(STAFF, pledge_id)
    clock.advance(days=4)
    report_ = watcher_for(governance, database_url).run_once()
    assert report_.recorded == {
        "ticket.response": 1,
        "ticket.resolution": 1,
        "pledge.due": 1,
    }
    assert event_types(governance, ticket_id)[-2:] == ["ResponseOverdue", "ResolutionOverdue"]
    assert governance.pledge(pledge_id).status == "lapsed"
    assert governance.ticket(ticket_id).resolution_overdue is True


def test_a_reopened_ticket_is_watched_against_its_new_deadline(
    governance: Governance, database_url: str, tree: dict[str, str], clock: FakeClock
) -> None:
    ticket_id = report(governance, tree["grid"])
    for step in ("accept", "dispatch", "respond", "resolve"):
        if step == "accept":
            governance.accept_ticket(STAFF, ticket_id)
        elif step == "dispatch":
            governance.dispatch_ticket(STAFF, ticket_id, level="grid", assignee="w")
        elif step == "respond":
            governance.respond_ticket(STAFF, ticket_id, note="到场")
        else:
            governance.resolve_ticket(STAFF, ticket_id, resolution="已清理")
    watcher = watcher_for(governance, database_url)
    assert watcher.run_once().total == 0
    governance.reopen_ticket(STAFF, ticket_id, reason="又堆上了")
    due = governance.ticket(ticket_id).resolve_due_at
    clock.set(due - timedelta(seconds=1))
    assert watcher.run_once().total == 0
    clock.set(due + timedelta(seconds=1))
    assert watcher.run_once().recorded == {"ticket.resolution": 1}


def test_two_watchers_at_once_record_each_fact_once(
    governance: Governance, database_url: str, tree: dict[str, str], clock: FakeClock
) -> None:
    tickets = [report(governance, tree["grid"]) for _ in range(8)]
    clock.advance(hours=2)
    watchers = [watcher_for(governance, database_url) for _ in range(2)]
    reports: list[object] = []
    threads = [threading.Thread(target=lambda w=w: reports.append(w.run_once())) for w in watchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reports) == 2
    assert sum(r.total for r in reports) == 8  # type: ignore[attr-defined]  # the list holds what run_once answers, as object
    for ticket_id in tickets:
        assert event_types(governance, ticket_id).count("ResponseOverdue") == 1


def test_between_rounds_the_index_follows_the_log_and_a_stop_closes_its_connection(
    governance: Governance, database_url: str, tree: dict[str, str], db
) -> None:
    watcher = watcher_for(governance, database_url)
    thread = threading.Thread(target=watcher.run_forever, kwargs={"interval": 3600, "follow": 0.02})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        head = max_position(governance)
        while watched_to(db) < head and time.monotonic() < deadline:  # the first round
            time.sleep(0.02)
        ticket_id = report(governance, tree["grid"])  # long before the next round
        kinds: list[str] = []
        while not kinds and time.monotonic() < deadline:
            rows = db.execute(
                "SELECT kind FROM deadline_watch WHERE aggregate_id = %s", (ticket_id,)
            ).fetchall()
            kinds = sorted(r[0] for r in rows)
            time.sleep(0.02)
        assert kinds == ["ticket.resolution", "ticket.response"]
    finally:
        watcher.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert watcher.index._conn is None
