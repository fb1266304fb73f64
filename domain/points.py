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
from typing import TYPE_CHECKING, Any, ClassVar, cast
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


class LedgerEntry(GovernedAggregate.Event):
    """The fields every entry event of `PointsAccount` records (never triggered itself;
    outside the aggregate, so that it is no event of its own)."""

    entry_id: UUID
    kind: str
    points: int
    delta: int
    balance_after: int
    rule_code: str | None
    rule_version: int | None
    source: dict[str, str]
    awarded_by: str | None
    approved_by: str | None
    on: date


class PointsAccount(GovernedAggregate):
    if TYPE_CHECKING:  # the event class @event makes below (fields: its arguments)
        Opened: ClassVar[type[Any]]

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
        self.trigger_event(
            self.AwardApproved,
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
        self.trigger_event(
            self.AwardRejected,
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
        self.trigger_event(self.Deducted, **fields, note=note)
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
        self.trigger_event(self.Redeemed, **fields, item=item)
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
        self.trigger_event(
            self.EntryReversed,
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
        self.trigger_event(self.PointsExpired, **fields, before=before, lots=lots)
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
        self.trigger_event(
            self.Awarded,
            **fields,
            status=status.value,
            quantity=quantity,
            note=note,
            clipped_from=clipped_from,
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

    # The ledger's entry events: each records the eleven fields of `LedgerEntry`, then
    # its own; `apply` only books (it runs again whenever the account is loaded).

    class Awarded(LedgerEntry):
        status: str
        quantity: int
        note: str | None
        clipped_from: int | None

        def apply(self, account: PointsAccount) -> None:
            policy.count(account.cap_buckets, _rule(self), self.on, self.points)
            if self.status == EntryStatus.PENDING:
                account.pending += self.points
                account.pending_awards[str(self.entry_id)] = {
                    "points": self.points,
                    "rule_code": self.rule_code,
                    "rule_version": self.rule_version,
                    "source": self.source,
                    "awarded_by": self.awarded_by,
                    "on": self.on.isoformat(),
                }
            else:
                account.earned += self.points
                account._credit(self.points, self.on)

    class AwardApproved(LedgerEntry):
        def apply(self, account: PointsAccount) -> None:
            del account.pending_awards[str(self.entry_id)]
            account.pending -= self.points
            account.earned += self.points
            account._credit(self.points, self.on)

    class AwardRejected(LedgerEntry):
        reason: str

        def apply(self, account: PointsAccount) -> None:
            entry = account.pending_awards.pop(str(self.entry_id))
            account.pending -= self.points
            policy.free(
                account.cap_buckets, _rule(self), date.fromisoformat(entry["on"]), self.points
            )

    class Deducted(LedgerEntry):
        note: str

        def apply(self, account: PointsAccount) -> None:
            policy.count(account.cap_buckets, _rule(self), self.on, self.points)
            account.deducted += self.points
            account._debit(self.points)

    class Redeemed(LedgerEntry):
        item: str

        def apply(self, account: PointsAccount) -> None:
            account.redeemed += self.points
            account._debit(self.points)

    class EntryReversed(LedgerEntry):
        reverses: UUID
        reverses_kind: str
        reason: str
        original_on: date
        original_posted_on: date | None

        def apply(self, account: PointsAccount) -> None:
            if self.reverses_kind == EntryKind.AWARD:
                account.earned -= self.points
                account._debit(self.points, first=self.original_posted_on)
            elif self.reverses_kind == EntryKind.DEDUCTION:
                account.deducted -= self.points
                account._credit(self.points, self.on)
            else:
                account.redeemed -= self.points
                account._credit(self.points, self.on)
            if self.rule_code is not None:
                policy.free(account.cap_buckets, self.rule_code, self.original_on, self.points)

    class PointsExpired(LedgerEntry):
        before: date
        lots: dict[str, int]

        def apply(self, account: PointsAccount) -> None:
            for day, n in self.lots.items():
                policy.debit_lots(account.lots, n, first=date.fromisoformat(day))
            account.expired += self.points
            account.balance -= self.points

    def _credit(self, points: int, on: date) -> None:
        policy.credit_lots(self.lots, self.balance, points, on)
        self.balance += points

    def _debit(self, points: int, first: date | None = None) -> None:
        policy.debit_lots(self.lots, points, first)
        self.balance -= points


def _rule(entry: LedgerEntry) -> str:
    """The rule of an award or deduction (which always follows one)."""
    return cast(str, entry.rule_code)


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
