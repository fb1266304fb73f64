"""Batch mode: many commands, one unit of work, one transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from api.runtime.database import library_env
from domain.activity import Activity
from domain.application import Governance
from domain.commands.base import BatchUsageError, Meta, Outcome
from domain.errors import ConcurrencyConflictError, InvalidTransitionError, RuleViolationError
from tests.fakes import FakeClock
from tests.writeside import max_position


def stored_topics(gov: Governance, after: int) -> list[tuple[str, int]]:
    notifications = gov.recorder.select_notifications(start=after + 1, limit=10_000)
    return [(n.topic.rsplit(".", 1)[-1], n.originator_version) for n in notifications]


def report(gov: Governance, meta: Meta, grid: str) -> str:
    result = gov.report_ticket(
        meta, category="road", description="井盖缺失", grid=grid, source="grid_worker"
    )
    return str(result.id)


def test_nothing_is_saved_until_the_batch_ends_then_everything_is(
    governance: Governance, admin: Meta, tree: dict[str, str]
) -> None:
    before = max_position(governance)
    with governance.batch() as batch:
        ticket_id = report(governance, admin, tree["grid"])
        governance.accept_ticket(admin, ticket_id)
        member = governance.register_member(
            admin,
            name="张三",
            phone="13800000001",
            kind="resident",
            party_member=False,
            home_grid=tree["grid"],
        )
        assert max_position(governance) == before
        assert batch.commands == 3
        assert batch.events == 3
    assert max_position(governance) == before + 3
    assert governance.ticket(ticket_id).status == "accepted"
    assert governance.member(member.id).home_grid == tree["grid"]


def test_an_exception_leaving_the_block_saves_nothing(
    governance: Governance, admin: Meta, tree: dict[str, str]
) -> None:
    before = max_position(governance)
    with pytest.raises(InvalidTransitionError), governance.batch():
        ticket_id = report(governance, admin, tree["grid"])
        governance.accept_ticket(admin, ticket_id)
        governance.accept_ticket(admin, ticket_id)
    assert max_position(governance) == before


def test_later_commands_see_what_earlier_ones_did(
    governance: Governance, admin: Meta, tree: dict[str, str], clock: FakeClock
) -> None:
    governance.put_rule(
        admin,
        tree["community"],
        "ATTEND",
        description="参加活动",
        points=5,
        kind="award",
        caps=None,
        requires_approval=False,
        trigger="activity_attendance",
    )
    starts = clock.now
    with governance.batch():
        member = governance.register_member(
            admin,
            name="李四",
            phone="13800000002",
            kind="in_service",
            party_member=True,
            home_grid=tree["grid"],
        )
        governance.report_in_member(admin, member.id, community=tree["other_community"])
        activity = governance.schedule_activity(
            admin,
            title="楼道清理",
            jurisdiction=tree["grid"],
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            points_rule="ATTEND",
        )
        governance.check_in(admin, activity.id, member_id=member.id)
        clock.advance(hours=2)
        governance.check_out(admin, activity.id, member_id=member.id)
        closed = governance.close_activity(admin, activity.id)
        assert closed.extra["awarded"] == 1
        # Queries inside the batch read the batch's state too.
        assert governance.points_account(member.id, tree["community"]).balance == 5
    assert governance.member(member.id).has_reported_in(tree["other_community"])
    assert governance.activity(activity.id).status == "closed"
    assert governance.points_account(member.id, tree["community"]).balance == 5


def test_a_refused_command_leaves_the_batch_as_it_was(
    governance: Governance, admin: Meta, tree: dict[str, str]
) -> None:
    before = max_position(governance)

    def accept_then_refuse(ticket_id: str) -> Outcome:
        ticket = governance.ticket(ticket_id)
        ticket.accept()  # changes the copy this command loaded ...
        raise RuleViolationError("... and then refuses")

    with governance.batch() as batch:
        ticket_id = report(governance, admin, tree["grid"])
        with pytest.raises(RuleViolationError):
            governance._execute(admin, "test", {}, lambda: accept_then_refuse(ticket_id))
        with pytest.raises(InvalidTransitionError):
            governance.resolve_ticket(admin, ticket_id, resolution="不该办结")
        assert governance.ticket(ticket_id).status == "reported"
        governance.accept_ticket(admin, ticket_id)
        assert batch.refused == 2
    assert stored_topics(governance, before) == [("Reported", 1), ("Accepted", 2)]


def test_positions_are_filled_in_command_order_after_the_save(
    governance: Governance, admin: Meta, tree: dict[str, str]
) -> None:
    put = {
        "description": "垃圾分类",
        "points": 3,
        "kind": "award",
        "caps": None,
        "requires_approval": True,
        "trigger": "manual",
    }
    with governance.batch() as batch:
        first = report(governance, admin, tree["grid"])
        rule = governance.put_rule(admin, tree["community"], "GARBAGE", **put)
        accepted = governance.accept_ticket(admin, first)
        same_rule = governance.put_rule(admin, tree["community"], "GARBAGE", **put)
        assert [r.position for r in batch.results] == [0, 0, 0, 0]
    reported, published, accepted_at, _ = (r.position for r in batch.results)
    assert 0 < reported < published < accepted_at == max_position(governance)
    assert same_rule.position == rule.position  # records nothing: its aggregate's position
    assert accepted.position == governance._position_of(accepted.id, accepted.version)
    # A command that records nothing about an aggregate saved earlier answers at once.
    with governance.batch():
        again = governance.put_rule(admin, tree["community"], "GARBAGE", **put)
        assert again.position == rule.position


def test_snapshots_are_taken_as_usual(
    governance: Governance, admin: Meta, tree: dict[str, str], clock: FakeClock
) -> None:
    starts = clock.now
    with governance.batch():
        activity = governance.schedule_activity(
            admin,
            title="政策宣讲",
            jurisdiction=tree["community"],
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
        )
        for n in range(25):
            member = governance.register_member(
                admin,
                name=f"居民{n}",
                phone=f"1390000{n:04d}",
                kind="resident",
                party_member=False,
                home_grid=tree["grid"],
            )
            governance.check_in(admin, activity.id, member_id=member.id)
            governance.check_out(admin, activity.id, member_id=member.id)
    assert governance.activity(activity.id).version == 51
    snapshots = list(governance.snapshots.get(activity.id))
    assert [s.originator_version for s in snapshots] == [50]
    assert isinstance(governance.repository.get(activity.id), Activity)


def test_a_concurrent_change_fails_the_whole_batch(
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    database_url: str,
    clock: FakeClock,
) -> None:
    ticket_id = report(governance, admin, tree["grid"])
    other = Governance(env=library_env(database_url), clock=clock)
    try:
        before = max_position(governance)
        with pytest.raises(ConcurrencyConflictError), governance.batch():
            report(governance, admin, tree["grid"])
            governance.accept_ticket(admin, ticket_id)
            other.reject_ticket(admin, ticket_id, reason="invalid")
    finally:
        other.close()
    assert max_position(governance) == before + 1
    assert governance.ticket(ticket_id).status == "rejected"
    assert len(list(governance.events.get(governance.ticket(ticket_id).id))) == 2
    assert governance.ticket(ticket_id).rejection_reason == "invalid"


def test_idempotency_keys_and_nested_batches_are_refused(
    governance: Governance, admin: Meta, tree: dict[str, str]
) -> None:
    before = max_position(governance)
    with governance.batch():
        with pytest.raises(BatchUsageError, match="idempotency"):
            governance.accept_ticket(replace(admin, idempotency_key="k"), "x")
        with pytest.raises(BatchUsageError, match="nest"), governance.batch():
            pass
    assert max_position(governance) == before


def test_a_large_batch_places_every_result_at_its_own_event(
    governance: Governance, admin: Meta, tree: dict[str, str]
) -> None:
    with governance.batch() as batch:
        members = [
            governance.register_member(
                admin,
                name=f"居民{n}",
                phone=f"1370000{n:04d}",
                kind="resident",
                party_member=False,
                home_grid=tree["grid"],
            )
            for n in range(300)
        ]
    assert len(batch.recordings) == 300
    positions = [m.position for m in members]
    assert positions == sorted(set(positions))
    assert all(m.position == governance._position_of(m.id, 1) for m in members[::37])
