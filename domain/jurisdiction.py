"""Jurisdiction: one node of the district / street / community / grid tree.

Codes are unique (the aggregate's id is derived from its code, so a second
definition of a code collides in the store). A child's kind sits directly under its
parent's kind; only a district has no parent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.base import GovernedAggregate, stable_id


class Kind(StrEnum):
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"


PARENT_KIND: dict[Kind, Kind | None] = {
    Kind.DISTRICT: None,
    Kind.STREET: Kind.DISTRICT,
    Kind.COMMUNITY: Kind.STREET,
    Kind.GRID: Kind.COMMUNITY,
}


class Jurisdiction(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Defined: ClassVar[type[Any]]
        Renamed: ClassVar[type[Any]]

    @staticmethod
    def create_id(code: str) -> UUID:
        return stable_id("jurisdiction", code)

    id_for = create_id

    @event("Defined")
    def __init__(
        self, code: str, kind: str, name: str, parent: str | None, path: list[str]
    ) -> None:
        self.code = code
        self.kind = kind
        self.name = name
        self.parent = parent
        self.path = path

    def rename(self, name: str) -> None:
        self._renamed(name=name)

    @event("Renamed")
    def _renamed(self, name: str) -> None:
        self.name = name

    def community(self) -> str | None:
        """The code of the community this node is, or sits in (None above communities)."""
        if self.kind == Kind.COMMUNITY:
            return self.code
        if self.kind == Kind.GRID:
            return self.parent
        return None

    def contains(self, code: str) -> bool:
        return code in self.path
