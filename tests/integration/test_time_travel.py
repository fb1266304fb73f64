"""State at a version equals folding that aggregate's stored events up to it by hand."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor

STAFF = Meta(actor=Actor("staff-1", "community_staff"))


def folded(governance: Governance, aggregate_id: UUID, version: int) -> Any:
    aggregate = None
    for event in governance.repository.event_store.get(aggregate_id, lte=version):
        aggregate = event.mutate(aggregate)
    return aggregate


def assert_every_version_matches(governance: Governance, aggregate_id: UUID) -> None:
    latest = governance.repository.get(aggregate_id).version
    for version in range(1, latest + 1):
        then = governance.repository.get(aggregate_id, version=version)
        assert then.version == version
        assert vars(then) == vars(folded(governance, aggregate_id, version))


def test_a_points_account_past_its_snapshots(
    governance: Governance, admin: Meta, tree: dict[str, str]
) -> None:
    member = governance.register_member(
        admin, name="王芳", phone="13800000001", kind="resident",
        party_member=False, home_grid=tree["grid"],
    ).id  # fmt: skip
    governance.put_rule(
        STAFF, tree["community"], "VOL", description="volunteering", points=2, kind="award",
        caps=None, requires_approval=False, trigger="manual",
    )  # fmt: skip
    for i in range(120):  # past two snapshots (every 50 events)
        governance.award_points(
            STAFF, member_id=member, community=tree["community"], rule_code="VOL",
            source_kind="photo", source_id=f"p{i}",
        )  # fmt: skip
    account = governance.points_account(member, tree["community"])
    assert account.version > 100
    assert_every_version_matches(governance, account.id)


def test_a_ticket(governance: Governance, tree: dict[str, str]) -> None:
    worker = Meta(actor=Actor("worker-1", "grid_worker"))
    ticket = governance.report_ticket(
        worker, category="road", description="pothole", grid=tree["grid"], source="grid_worker"
    ).id
    governance.accept_ticket(STAFF, ticket)
    governance.dispatch_ticket(STAFF, ticket, level="grid", assignee="worker-1")
    governance.respond_ticket(worker, ticket, note="on my way")
    assert_every_version_matches(governance, ticket)
