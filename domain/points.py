"""PointsAccount: one member's civility points (文明积分) in one community.

The account's events are its ledger: every entry event records `entry_id`, `kind`,
`points` (the entry's size, always > 0), `delta` (its effect on the balance, signed; 0
for an award still pending), `balance_after`, `rule_code`, `rule_version`, `source`
(`{"kind", "id"}`), `awarded_by` (who awarded, or imposed a deduction; "system" for
triggered awards), `approved_by` and `on` (the local date it counts in).
The aggregate itself keeps only what its rules need, so it stays small however long
the ledger grows: the totals, the pending awards, the cap buckets and the lots.

Totals always reconcile: balance == earned - deducted - redeemed - expired, where
earned counts posted awards. A reversal counts against the total of the entry it
reverses: reversing an award lowers `earned`, reversing a deduction lowers `deducted`,
reversing a redemption lowers `redeemed`; so every total is net of reversals.

Rules: awards follow a rule in force of kind award, within its caps (counting posted
and pending entries of that rule in the local day, month and year; a deduction rule's
caps hold the same way; a rejected or reversed entry frees its points in the periods
still current); nobody awards
themselves; whoever awarded may not approve, nor may the member; nobody reverses
entries of their own account; a redemption never
takes the balance below zero, nor does reversing an award. A deduction is a penalty
that stands: it is posted at once and may take the balance below zero; later credits
pay that debt off first. Expiry removes the unconsumed points earned before a date;
debits consume the oldest points first.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.domain import event

from domain import points_policy as policy
from domain.base import GovernedAggregate, stable_id
from domain.calendar import local_date
from domain.context import current
from domain.errors import (
    ApproverIsAwarderError,
    CapExceededError,
    ExpiryPeriodOpenError,
    InsufficientBalanceError,
    PointsValueError,
    ReversalBeyondBalanceError,
    RuleKindError,
    RuleTriggerError,
    SelfApprovalError,
    SelfAwardError,
    SelfReversalError,
)
from domain.points_entry import EntryKey, EntryKind, EntryStatus
from domain.rulebook import Rule, RuleKind, Trigger

SYSTEM_AWARDER = "system"


class PointsAccount(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Opened: ClassVar[type[Any]]
        Awarded: ClassVar[type[Any]]
        AwardApproved: ClassVar[type[Any]]
        AwardRejected: ClassVar[type[Any]]
        Deducted: ClassVar[type[Any]]
        Redeemed: ClassVar[type[Any]]
        EntryReversed: ClassVar[type[Any]]
        PointsExpired: ClassVar[type[Any]]

    @staticmethod
    def create_id(member_id: UUID, community: str) -> UUID:
        return stable_id("points", member_id, community)

    id_for = create_id

    @event("Opened")
    def __init__(self, member_id: UUID, community: str) -> None:
        self.member_id = member_id
        self.community = community
        self.balance = 0
        self.earned = 0
        self.deducted = 0
        self.redeemed = 0
        self.expired = 0
        self.pending = 0
        self.pending_awards: dict[str, dict[str, Any]] = {}
        self.cap_buckets: dict[str, dict[str, Any]] = {}
        self.lots: dict[str, int] = {}

    def award(
        self, rule: Rule, *, source: dict[str, str], quantity: int = 1, note: str | None = None
    ) -> EntryKey:
        """Award `rule` by hand, `quantity` times, for `source`; pending if it needs approval."""
        awarded_by = current().actor.id
        self._require_rule(rule, RuleKind.AWARD)
        if rule.trigger != Trigger.MANUAL:
            raise RuleTriggerError(f"rule {rule.code} is awarded by its trigger {rule.trigger}")
        if current().actor.is_member(self.member_id):
            raise SelfAwardError("nobody may award points to themselves")
        if not _positive_int(quantity):
            raise PointsValueError(f"quantity must be a whole number of at least 1: {quantity!r}")
        source = _source(source)
        points = rule.points * quantity
        self._require_within_caps(rule, points)
        return self._award(rule, source, points, quantity, note, awarded_by, clipped_from=None)

    def award_automatically(self, rule: Rule, *, source: dict[str, str]) -> EntryKey | None:
        """Award `rule` for `source` on behalf of the system, clipped to what its caps leave."""
        self._require_rule(rule, RuleKind.AWARD)
        if rule.trigger == Trigger.MANUAL:
            raise RuleTriggerError(f"rule {rule.code} is awarded by hand")
        source = _source(source)
        left = policy.room(rule.caps, self.cap_buckets.get(rule.code), self._today())
        points = rule.points if left is None else min(rule.points, left)
        if points == 0:
            return None
        clipped_from = rule.points if points < rule.points else None
        return self._award(rule, source, points, 1, None, SYSTEM_AWARDER, clipped_from)

    def approve(self, key: EntryKey) -> None:
        """Post a pending award; four eyes: neither its awarder nor the member approves."""
        self._require_own(key)
        key.require_pending("approve")
        entry = self.pending_awards[str(key.id)]
        approver = current().actor.id
        if approver == entry["awarded_by"]:
            raise ApproverIsAwarderError("whoever awarded points may not approve the award")
        if current().actor.is_member(self.member_id):
            raise SelfApprovalError("a member may not approve an award to themselves")
        on = self._today()
        self._award_approved(
            **_entry_fields(entry, key.id, EntryKind.AWARD, on),
            delta=entry["points"],
            balance_after=self.balance + entry["points"],
            approved_by=approver,
        )
        key.approve(approved_by=approver, on=on)

    def reject(self, key: EntryKey, *, reason: str) -> None:
        """Turn down a pending award; its points no longer count against the caps."""
        self._require_own(key)
        key.require_pending("reject")
        reason = _text(reason, "reason")
        entry = self.pending_awards[str(key.id)]
        self._award_rejected(
            **_entry_fields(entry, key.id, EntryKind.AWARD, self._today()),
            delta=0,
            balance_after=self.balance,
            approved_by=None,
            reason=reason,
        )
        key.reject(reason=reason)

    def deduct(self, rule: Rule, *, source: dict[str, str], note: str) -> EntryKey:
        """Deduct `rule`'s points for `source`, posted at once; the balance may go below zero."""
        self._require_rule(rule, RuleKind.DEDUCTION)
        note = _text(note, "note")
        source = _source(source)
        self._require_within_caps(rule, rule.points)
        fields = self._entry(
            EntryKind.DEDUCTION,
            rule.points,
            -rule.points,
            source,
            rule=rule,
            awarded_by=current().actor.id,
        )
        self._deducted(**fields, note=note)
        return self._key(fields, EntryStatus.POSTED)

    def redeem(self, *, item: str, points: int) -> EntryKey:
        """Spend points at the points supermarket; never beyond the balance."""
        item = _text(item, "item")
        if not _positive_int(points):
            raise PointsValueError(f"points must be a whole number above zero, not {points!r}")
        if points > self.balance:
            raise InsufficientBalanceError(
                f"redeeming {points} points needs a balance of at least {points}; "
                f"it is {self.balance}"
            )
        fields = self._entry(EntryKind.REDEMPTION, points, -points, {"kind": "item", "id": item})
        self._redeemed(**fields, item=item)
        return self._key(fields, EntryStatus.POSTED)

    def reverse(self, key: EntryKey, *, reason: str) -> EntryKey:
        """Take back a posted award, deduction or redemption, once, with a reason."""
        self._require_own(key)
        key.require_reversible()
        if current().actor.is_member(self.member_id):
            raise SelfReversalError("a member may not reverse entries of their own account")
        reason = _text(reason, "reason")
        delta = -key.points if key.kind == EntryKind.AWARD else key.points
        if key.kind == EntryKind.AWARD and self.balance < key.points:
            raise ReversalBeyondBalanceError(
                f"reversing this award of {key.points} points would take the balance "
                f"of {self.balance} below zero"
            )
        fields = self._entry(
            EntryKind.REVERSAL, key.points, delta, {"kind": "entry", "id": str(key.id)}
        )
        fields.update(rule_code=key.rule_code, rule_version=key.rule_version)
        self._entry_reversed(
            **fields,
            reverses=key.id,
            reverses_kind=key.kind,
            reason=reason,
            original_on=key.on,
            original_posted_on=key.posted_on,
        )
        key.reverse(reversal_id=fields["entry_id"], reason=reason)
        return self._key(fields, EntryStatus.POSTED)

    def expire(self, *, before: date) -> EntryKey | None:
        """Expire the unconsumed points earned before local date `before` (None if none)."""
        today = self._today()
        if before > today:
            raise ExpiryPeriodOpenError(
                f"points earned before {before} cannot expire yet: today is {today}"
            )
        lots = policy.lots_before(self.lots, before)
        if not lots:
            return None
        points = sum(lots.values())
        source = {"kind": "expiry", "id": before.isoformat()}
        fields = self._entry(EntryKind.EXPIRY, points, -points, source)
        self._points_expired(**fields, before=before, lots=lots)
        return self._key(fields, EntryStatus.POSTED)

    def _award(
        self,
        rule: Rule,
        source: dict[str, str],
        points: int,
        quantity: int,
        note: str | None,
        awarded_by: str,
        clipped_from: int | None,
    ) -> EntryKey:
        status = EntryStatus.PENDING if rule.requires_approval else EntryStatus.POSTED
        delta = points if status == EntryStatus.POSTED else 0
        fields = self._entry(
            EntryKind.AWARD, points, delta, source, rule=rule, awarded_by=awarded_by
        )
        self._awarded(
            **fields, status=status.value, quantity=quantity, note=note, clipped_from=clipped_from
        )
        return self._key(fields, status)

    def _require_rule(self, rule: Rule, kind: RuleKind) -> None:
        if rule.kind != kind:
            raise RuleKindError(f"rule {rule.code} is a {rule.kind} rule; this needs a {kind} rule")

    def _require_within_caps(self, rule: Rule, points: int) -> None:
        passed = policy.cap_passed(
            rule.caps, self.cap_buckets.get(rule.code), self._today(), points
        )
        if passed is not None:
            cap_name, cap, used = passed
            raise CapExceededError(
                f"{points} more points of rule {rule.code} would pass its cap {cap_name}={cap}"
                f" ({used} already counted)"
            )

    def _require_own(self, key: EntryKey) -> None:
        if key.account_id != self.id:
            raise ValueError(f"entry {key.id} belongs to another account")

    def _today(self) -> date:
        return local_date(current().now)

    def _entry(
        self,
        kind: EntryKind,
        points: int,
        delta: int,
        source: dict[str, str],
        *,
        rule: Rule | None = None,
        awarded_by: str | None = None,
    ) -> dict[str, Any]:
        entry_id = uuid4()
        if rule is not None:
            entry_id = EntryKey.for_source(
                self.community, self.member_id, source["kind"], source["id"], rule.code
            )
        return {
            "entry_id": entry_id,
            "kind": kind.value,
            "points": points,
            "delta": delta,
            "balance_after": self.balance + delta,
            "rule_code": None if rule is None else rule.code,
            "rule_version": None if rule is None else rule.version,
            "source": source,
            "awarded_by": awarded_by,
            "approved_by": None,
            "on": self._today(),
        }

    def _key(self, fields: dict[str, Any], status: EntryStatus) -> EntryKey:
        return EntryKey(
            entry_id=fields["entry_id"],
            account_id=self.id,
            member_id=self.member_id,
            community=self.community,
            kind=fields["kind"],
            points=fields["points"],
            rule_code=fields["rule_code"],
            rule_version=fields["rule_version"],
            source=fields["source"],
            status=status.value,
            on=fields["on"],
            awarded_by=fields["awarded_by"],
        )

    # Every entry event below carries the same ledger fields; the mutators only book.

    @event("Awarded")
    def _awarded(
        self,
        entry_id: UUID,
        kind: str,
        points: int,
        delta: int,
        balance_after: int,
        rule_code: str,
        rule_version: int,
        source: dict[str, str],
        awarded_by: str,
        approved_by: str | None,
        on: date,
        status: str,
        quantity: int,
        note: str | None,
        clipped_from: int | None,
    ) -> None:
        policy.count(self.cap_buckets, rule_code, on, points)
        if status == EntryStatus.PENDING:
            self.pending += points
            self.pending_awards[str(entry_id)] = {
                "points": points,
                "rule_code": rule_code,
                "rule_version": rule_version,
                "source": source,
                "awarded_by": awarded_by,
                "on": on.isoformat(),
            }
        else:
            self.earned += points
            self._credit(points, on)

    @event("AwardApproved")
    def _award_approved(
        self,
        entry_id: UUID,
        kind: str,
        points: int,
        delta: int,
        balance_after: int,
        rule_code: str,
        rule_version: int,
        source: dict[str, str],
        awarded_by: str,
        approved_by: str,
        on: date,
    ) -> None:
        del self.pending_awards[str(entry_id)]
        self.pending -= points
        self.earned += points
        self._credit(points, on)

    @event("AwardRejected")
    def _award_rejected(
        self,
        entry_id: UUID,
        kind: str,
        points: int,
        delta: int,
        balance_after: int,
        rule_code: str,
        rule_version: int,
        source: dict[str, str],
        awarded_by: str,
        approved_by: None,
        on: date,
        reason: str,
    ) -> None:
        entry = self.pending_awards.pop(str(entry_id))
        self.pending -= points
        policy.free(self.cap_buckets, rule_code, date.fromisoformat(entry["on"]), points)

    @event("Deducted")
    def _deducted(
        self,
        entry_id: UUID,
        kind: str,
        points: int,
        delta: int,
        balance_after: int,
        rule_code: str,
        rule_version: int,
        source: dict[str, str],
        awarded_by: str,
        approved_by: None,
        on: date,
        note: str,
    ) -> None:
        policy.count(self.cap_buckets, rule_code, on, points)
        self.deducted += points
        self._debit(points)

    @event("Redeemed")
    def _redeemed(
        self,
        entry_id: UUID,
        kind: str,
        points: int,
        delta: int,
        balance_after: int,
        rule_code: None,
        rule_version: None,
        source: dict[str, str],
        awarded_by: None,
        approved_by: None,
        on: date,
        item: str,
    ) -> None:
        self.redeemed += points
        self._debit(points)

    @event("EntryReversed")
    def _entry_reversed(
        self,
        entry_id: UUID,
        kind: str,
        points: int,
        delta: int,
        balance_after: int,
        rule_code: str | None,
        rule_version: int | None,
        source: dict[str, str],
        awarded_by: None,
        approved_by: None,
        on: date,
        reverses: UUID,
        reverses_kind: str,
        reason: str,
        original_on: date,
        original_posted_on: date | None,
    ) -> None:
        if reverses_kind == EntryKind.AWARD:
            self.earned -= points
            self._debit(points, first=original_posted_on)
        elif reverses_kind == EntryKind.DEDUCTION:
            self.deducted -= points
            self._credit(points, on)
        else:
            self.redeemed -= points
            self._credit(points, on)
        if rule_code is not None:
            policy.free(self.cap_buckets, rule_code, original_on, points)

    @event("PointsExpired")
    def _points_expired(
        self,
        entry_id: UUID,
        kind: str,
        points: int,
        delta: int,
        balance_after: int,
        rule_code: None,
        rule_version: None,
        source: dict[str, str],
        awarded_by: None,
        approved_by: None,
        on: date,
        before: date,
        lots: dict[str, int],
    ) -> None:
        for day, n in lots.items():
            policy.debit_lots(self.lots, n, first=date.fromisoformat(day))
        self.expired += points
        self.balance -= points

    def _credit(self, points: int, on: date) -> None:
        policy.credit_lots(self.lots, self.balance, points, on)
        self.balance += points

    def _debit(self, points: int, first: date | None = None) -> None:
        policy.debit_lots(self.lots, points, first)
        self.balance -= points


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PointsValueError(f"{name} must not be blank")
    return value.strip()


def _source(source: dict[str, str]) -> dict[str, str]:
    if not isinstance(source, dict):
        raise PointsValueError("source must be {kind, id}")
    return {
        "kind": _text(source.get("kind"), "source.kind"),
        "id": _text(source.get("id"), "source.id"),
    }


def _entry_fields(
    entry: dict[str, Any], entry_id: UUID, kind: EntryKind, on: date
) -> dict[str, Any]:
    return {
        "entry_id": entry_id,
        "kind": kind.value,
        "points": entry["points"],
        "rule_code": entry["rule_code"],
        "rule_version": entry["rule_version"],
        "source": entry["source"],
        "awarded_by": entry["awarded_by"],
        "on": on,
    }
