"""The event store recorder's additions to the library's."""

from __future__ import annotations

from domain.application import Governance
from domain.context import Actor, acting
from domain.member import Member
from projections.store.recorder import PIPELINE_LIMIT


def test_a_save_of_thousands_of_events_commits_whole(governance: Governance) -> None:
    count = max(3000, PIPELINE_LIMIT * 10)
    with acting(Actor("importer", "admin")):
        members = [
            Member(
                name=f"居民{i:05d}" + "·" * 100,
                phone="13800138000",
                kind="resident",
                party_member=False,
                home_grid=None,
            )
            for i in range(count)
        ]
    recordings = governance.save(*members)
    assert [r.notification.id for r in recordings] == list(range(1, count + 1))
    assert governance.recorder.position_of(members[-1].id, 1) == count


def test_position_of_an_unknown_event_is_none(governance: Governance) -> None:
    from uuid import uuid4

    assert governance.recorder.position_of(uuid4(), 1) is None
