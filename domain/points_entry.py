"""EntryKey: one entry of a points account, under an id the store keeps unique.

An award's or deduction's id derives from its source and rule
(`EntryKey.for_source(...)`), so one source can never earn (or be charged) the same
rule twice: a second entry collides with the first in the store even when two writers
race. Entries recorded before the id took its parts length-prefixed keep their
"/"-joined id (`legacy_for_source`); a source is looked up under both. Redemptions,
expiries and reversals take fresh ids. The key is saved in the same transaction as its
account's event, records the entry's later life (approved, rejected, reversed), and
names the account, so commands given an entry id find it.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.base import GovernedAggregate, distinct_id, stable_id
from domain.errors import PointsEntryTransitionError


class EntryKind(StrEnum):
    AWARD = "award"
    DEDUCTION = "deduction"
    REDEMPTION = "redemption"
    REVERSAL = "reversal"
    EXPIRY = "expiry"


class EntryStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    REJECTED = "rejected"
    REVERSED = "reversed"


REVERSIBLE = (EntryKind.AWARD, EntryKind.DEDUCTION, EntryKind.REDEMPTION)


def _source_parts(
    community: str, member_id: UUID, source_kind: str, source_id: str, rule_code: str
) -> tuple[str, str, str, str, str]:
    return (community, str(member_id), source_kind.strip(), source_id.strip(), rule_code)


class EntryKey(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Recorded: ClassVar[type[Any]]
        Approved: ClassVar[type[Any]]
        Rejected: ClassVar[type[Any]]
        Reversed: ClassVar[type[Any]]

    @staticmethod
    def create_id(entry_id: UUID) -> UUID:
        return entry_id

    @staticmethod
    def for_source(
        community: str, member_id: UUID, source_kind: str, source_id: str, rule_code: str
    ) -> UUID:
        """The id of the entry `source` earns (or is charged) under `rule_code`: a
        `distinct_id` of the length-prefixed parts, which no other source shares."""
        parts = _source_parts(community, member_id, source_kind, source_id, rule_code)
        return distinct_id("points-entry", *parts)

    @staticmethod
    def legacy_for_source(
        community: str, member_id: UUID, source_kind: str, source_id: str, rule_code: str
    ) -> UUID:
        """The id such an entry had before `for_source` (its parts joined with "/", which
        another source may share: see `is_for`). Entries recorded then keep it."""
        return stable_id(
            "points-entry", *_source_parts(community, member_id, source_kind, source_id, rule_code)
        )

    def is_for(
        self, community: str, member_id: UUID, source_kind: str, source_id: str, rule_code: str
    ) -> bool:
        """Whether this is the entry of that source and rule (not another's whose legacy
        id met it)."""
        mine = (self.community, str(self.member_id), self.source.get("kind", "").strip(),
                self.source.get("id", "").strip(), self.rule_code)  # fmt: skip
        return mine == _source_parts(community, member_id, source_kind, source_id, rule_code)

    @event("Recorded")
    def __init__(
        self,
        entry_id: UUID,
        account_id: UUID,
        member_id: UUID,
        community: str,
        kind: str,
        points: int,
        rule_code: str | None,
        rule_version: int | None,
        source: dict[str, str],
        status: str,
        on: date,
        awarded_by: str | None,
    ) -> None:
        self.account_id = account_id
        self.member_id = member_id
        self.community = community
        self.kind = kind
        self.points = points
        self.rule_code = rule_code
        self.rule_version = rule_version
        self.source = source
        self.status = status
        self.on = on
        self.posted_on = on if status == EntryStatus.POSTED else None
        self.awarded_by = awarded_by
        self.approved_by: str | None = None
        self.reversed_by: UUID | None = None

    def require_pending(self, action: str) -> None:
        if self.status != EntryStatus.PENDING:
            raise PointsEntryTransitionError(action, self.status)

    def require_reversible(self) -> None:
        if self.kind not in REVERSIBLE:
            raise PointsEntryTransitionError("reverse", f"a {self.kind}")
        if self.status != EntryStatus.POSTED:
            raise PointsEntryTransitionError("reverse", self.status)

    def approve(self, *, approved_by: str, on: date) -> None:
        self.require_pending("approve")
        self._approved(approved_by=approved_by, on=on)

    def reject(self, *, reason: str) -> None:
        self.require_pending("reject")
        self._rejected(reason=reason)

    def reverse(self, *, reversal_id: UUID, reason: str) -> None:
        self.require_reversible()
        self._reversed(reversal_id=reversal_id, reason=reason)

    @event("Approved")
    def _approved(self, approved_by: str, on: date) -> None:
        self.status = EntryStatus.POSTED.value
        self.approved_by = approved_by
        self.posted_on = on

    @event("Rejected")
    def _rejected(self, reason: str) -> None:
        self.status = EntryStatus.REJECTED.value

    @event("Reversed")
    def _reversed(self, reversal_id: UUID, reason: str) -> None:
        self.status = EntryStatus.REVERSED.value
        self.reversed_by = reversal_id
