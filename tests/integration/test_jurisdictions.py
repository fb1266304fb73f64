from __future__ import annotations

import pytest

from domain.application import Governance
from domain.commands.base import Meta
from domain.errors import (
    InvalidValueError,
    JurisdictionCodeTakenError,
    JurisdictionKindError,
    NotFoundError,
    WrongJurisdictionKindError,
)
from domain.jurisdiction import Jurisdiction


def define_tree(gov: Governance, admin: Meta) -> None:
    gov.define_jurisdiction(admin, code="HG", kind="district", name="海港区", parent=None)
    gov.define_jurisdiction(admin, code="HG-01", kind="street", name="文化路街道", parent="HG")
    gov.define_jurisdiction(
        admin, code="HG-01-01", kind="community", name="北环社区", parent="HG-01"
    )
    gov.define_jurisdiction(
        admin, code="HG-01-01-01", kind="grid", name="一网格", parent="HG-01-01"
    )


def test_a_grid_knows_its_path_and_community(governance: Governance, admin: Meta) -> None:
    define_tree(governance, admin)
    grid = governance.jurisdiction("HG-01-01-01")
    assert grid.path == ["HG", "HG-01", "HG-01-01", "HG-01-01-01"]
    assert governance.community_of("HG-01-01-01") == "HG-01-01"
    assert governance.community_of("HG-01-01") == "HG-01-01"


def test_a_code_cannot_be_defined_twice(governance: Governance, admin: Meta) -> None:
    define_tree(governance, admin)
    with pytest.raises(JurisdictionCodeTakenError):
        governance.define_jurisdiction(admin, code="HG-01", kind="street", name="x", parent="HG")


@pytest.mark.parametrize(
    ("kind", "parent"),
    [("grid", "HG-01"), ("street", None), ("district", "HG"), ("community", "HG")],
)
def test_a_child_must_sit_directly_under_its_parents_kind(
    governance: Governance, admin: Meta, kind: str, parent: str | None
) -> None:
    define_tree(governance, admin)
    with pytest.raises(JurisdictionKindError):
        governance.define_jurisdiction(admin, code="NEW", kind=kind, name="x", parent=parent)
    with pytest.raises(NotFoundError):
        governance.jurisdiction("NEW")


def test_an_unknown_parent_or_kind_is_refused(governance: Governance, admin: Meta) -> None:
    with pytest.raises(NotFoundError):
        governance.define_jurisdiction(admin, code="S", kind="street", name="x", parent="NOPE")
    with pytest.raises(InvalidValueError):
        governance.define_jurisdiction(admin, code="S", kind="county", name="x", parent=None)


def test_community_of_a_street_is_refused(governance: Governance, admin: Meta) -> None:
    define_tree(governance, admin)
    with pytest.raises(WrongJurisdictionKindError):
        governance.community_of("HG-01")


def test_events_record_actor_and_server_time(governance: Governance, admin: Meta, clock) -> None:
    result = governance.define_jurisdiction(
        admin, code="HG", kind="district", name="海港区", parent=None
    )
    assert result.id == Jurisdiction.id_for("HG")
    assert result.version == 1
    assert result.position >= 1
    (stored,) = governance.events.get(result.id)
    assert (stored.actor_id, stored.actor_role) == ("admin-1", "admin")
    assert stored.timestamp == clock.now
    assert stored.occurred_at is None
