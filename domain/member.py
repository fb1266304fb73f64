"""Member: a person known to the community (party member or resident)."""

from __future__ import annotations

from eventsourcing.domain import event

from domain.base import GovernedAggregate


class Member(GovernedAggregate):
    @event("Registered")
    def __init__(
        self, name: str, phone: str, kind: str, party_member: bool, home_grid: str | None
    ) -> None:
        self.name = name
        self.phone = phone
        self.kind = kind
        self.party_member = party_member
        self.home_grid = home_grid
