"""Commands for rulebooks and points accounts (积分规则, 加分, 扣分, 兑换, 清零).

Awards and deductions are keyed by their source (`EntryKey.for_source`): a repeat is
refused with SourceAlreadyUsedError, and two writers racing on the same source collide
in the store, so the pipeline's retry meets the first one's key. Triggered awards
(`_automatic_awards`) skip a source that has already earned instead.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.commands.base import CommandBase, Handler, Meta, Outcome, command
from domain.errors import (
    NotFoundError,
    PointsValueError,
    RuleNotInForceError,
    RuleTriggerError,
    SourceAlreadyUsedError,
)
from domain.jurisdiction import Kind
from domain.points import PointsAccount
from domain.points_entry import EntryKey
from domain.rulebook import Rule, Rulebook, RuleKind


class PointsCommands(CommandBase):
    @command
    def put_rule(
        self,
        meta: Meta,
        community: str,
        rule_code: str,
        *,
        description: str,
        points: int,
        kind: str,
        caps: dict[str, int | None] | None,
        requires_approval: bool,
        trigger: str,
    ) -> Handler:
        """Publish a new version of a community's rule (nothing new if identical)."""

        def handle() -> Outcome:
            self.require_kind(community, Kind.COMMUNITY)
            book = self._find(Rulebook, Rulebook.id_for(community)) or Rulebook(community=community)
            rule = book.put_rule(
                rule_code,
                description=description,
                points=points,
                kind=kind,
                caps=caps,
                requires_approval=requires_approval,
                trigger=trigger,
            )
            return Outcome(book, extra={"rule_code": rule_code, "rule_version": rule.version})

        return handle

    @command
    def retire_rule(self, meta: Meta, community: str, rule_code: str) -> Handler:
        """Take a rule out of force; its versions stay on record."""

        def handle() -> Outcome:
            book = self.rulebook(community)
            book.retire_rule(rule_code)
            return Outcome(book, extra={"rule_code": rule_code})

        return handle

    @command
    def award_points(
        self,
        meta: Meta,
        *,
        member_id: UUID | str,
        community: str,
        rule_code: str,
        source_kind: str,
        source_id: str,
        quantity: int = 1,
        note: str | None = None,
    ) -> Handler:
        """Award a manual rule to a member for a source (pending if it needs approval)."""

        def handle() -> Outcome:
            account, rule = self._account_and_rule(member_id, community, rule_code)
            self._require_unused_source(account, source_kind, source_id, rule)
            source = {"kind": source_kind, "id": source_id}
            key = account.award(rule, source=source, quantity=quantity, note=note)
            return Outcome(account, others=[key], extra={"entry_id": key.id, "status": key.status})

        return handle

    @command
    def approve_award(self, meta: Meta, entry_id: UUID | str) -> Handler:
        """Post a pending award (by someone other than its awarder and the member)."""

        def handle() -> Outcome:
            key, account = self._entry_and_account(entry_id)
            account.approve(key)
            return Outcome(account, others=[key], extra={"entry_id": key.id, "status": key.status})

        return handle

    @command
    def reject_award(self, meta: Meta, entry_id: UUID | str, *, reason: str) -> Handler:
        """Turn down a pending award, with a reason."""

        def handle() -> Outcome:
            key, account = self._entry_and_account(entry_id)
            account.reject(key, reason=reason)
            return Outcome(account, others=[key], extra={"entry_id": key.id, "status": key.status})

        return handle

    @command
    def deduct_points(
        self,
        meta: Meta,
        *,
        member_id: UUID | str,
        community: str,
        rule_code: str,
        source_kind: str,
        source_id: str,
        note: str,
    ) -> Handler:
        """Deduct a deduction rule's points for an uncivil act; the balance may go below zero."""

        def handle() -> Outcome:
            account, rule = self._account_and_rule(member_id, community, rule_code)
            self._require_unused_source(account, source_kind, source_id, rule)
            key = account.deduct(rule, source={"kind": source_kind, "id": source_id}, note=note)
            return Outcome(account, others=[key], extra={"entry_id": key.id})

        return handle

    @command
    def redeem_points(
        self, meta: Meta, *, member_id: UUID | str, community: str, item: str, points: int
    ) -> Handler:
        """Spend points on an item at the points supermarket, never beyond the balance."""

        def handle() -> Outcome:
            account = self._account(self._member_in(member_id, community), community)
            key = account.redeem(item=item, points=points)
            return Outcome(account, others=[key], extra={"entry_id": key.id})

        return handle

    @command
    def reverse_entry(self, meta: Meta, entry_id: UUID | str, *, reason: str) -> Handler:
        """Reverse a posted award, deduction or redemption, once."""

        def handle() -> Outcome:
            key, account = self._entry_and_account(entry_id)
            reversal = account.reverse(key, reason=reason)
            return Outcome(
                account, others=[key, reversal], extra={"entry_id": reversal.id, "reverses": key.id}
            )

        return handle

    @command
    def expire_points(
        self, meta: Meta, *, member_id: UUID | str, community: str, before: date
    ) -> Handler:
        """Expire a member's unconsumed points earned before a local date (no-op if none)."""

        def handle() -> Outcome:
            if not isinstance(before, date):
                raise PointsValueError(f"before must be a date, not {before!r}")
            account = self.points_account(self._member_in(member_id, community), community)
            key = account.expire(before=before)
            if key is None:
                return Outcome(account, extra={"entry_id": None, "points": 0})
            return Outcome(account, others=[key], extra={"entry_id": key.id, "points": key.points})

        return handle

    def rulebook(self, community: str) -> Rulebook:
        """The community's rulebook, or NotFoundError."""
        try:
            return self._get(Rulebook, Rulebook.id_for(community), "Rulebook")
        except NotFoundError:
            raise NotFoundError("Rulebook", community) from None

    def points_account(self, member_id: UUID | str, community: str) -> PointsAccount:
        """The member's points account in `community`, or NotFoundError."""
        account = self._find(PointsAccount, PointsAccount.id_for(_uuid(member_id), community))
        if account is None:
            raise NotFoundError("PointsAccount", f"{member_id} in {community}")
        return account

    def entry(self, entry_id: UUID | str) -> EntryKey:
        """The key of one points entry, or NotFoundError."""
        return self._get(EntryKey, entry_id, "PointsEntry")

    def require_rule(self, community: str, rule_code: str, trigger: str) -> None:
        """Refuse unless `community`'s rulebook has `rule_code` in force with `trigger`."""
        rule = self._rule_in_force(community, rule_code)
        if rule.trigger != trigger or rule.kind != RuleKind.AWARD:
            raise RuleTriggerError(
                f"rule {rule_code} of {community} is a {rule.kind} rule triggered by "
                f"{rule.trigger}, not an award triggered by {trigger}"
            )

    def _automatic_awards(
        self,
        *,
        trigger: str,
        community: str,
        member_id: UUID,
        source_kind: str,
        source_id: str,
        rule_code: str | None = None,
    ) -> list[Aggregate]:
        """Award the community's rules with `trigger` (or only `rule_code`) to the member
        for this source, exactly once; return the aggregates to save together with the
        triggering command (empty when nothing applies or the source already earned).
        For several members of one source, find the rules once (`_automatic_rules`) and
        call `_award_automatically` per member."""
        rules = self._automatic_rules(trigger, community, rule_code)
        return self._award_automatically(rules, community, member_id, source_kind, source_id)

    def _automatic_rules(self, trigger: str, community: str, rule_code: str | None) -> list[Rule]:
        """The community's award rules in force with `trigger` (or only `rule_code`)."""
        book = self._find(Rulebook, Rulebook.id_for(community))
        if book is None:
            return []
        return [
            r
            for r in book.rules_in_force()
            if r.trigger == trigger
            and r.kind == RuleKind.AWARD
            and (rule_code is None or r.code == rule_code)
        ]

    def _award_automatically(
        self, rules: list[Rule], community: str, member_id: UUID, source_kind: str, source_id: str
    ) -> list[Aggregate]:
        """Apply `rules` to the member for this source, each at most once (see
        `_automatic_awards`). Rules whose caps are used up are skipped; caps clip an award
        to what they leave. Call it once per member within one command: each call loads
        the account afresh."""
        member = _uuid(member_id)
        source = {"kind": source_kind, "id": source_id}
        account: PointsAccount | None = None
        keys: list[Aggregate] = []
        for rule in rules:
            if self._source_used(community, member, source_kind, source_id, rule.code):
                continue
            account = account or self._account(member, community)
            key = account.award_automatically(rule, source=source)
            if key is not None:
                keys.append(key)
        return [account, *keys] if account is not None and keys else []

    def _source_used(
        self, community: str, member: UUID, source_kind: str, source_id: str, rule_code: str
    ) -> bool:
        """Whether this source has already earned this rule for this member: an entry
        under its id, or one recorded before under its legacy id that is truly this
        source's (two sources' legacy ids may meet: that one is not a repeat)."""
        parts = (community, member, source_kind, source_id, rule_code)
        if self._find(EntryKey, EntryKey.for_source(*parts)) is not None:
            return True
        legacy = self._find(EntryKey, EntryKey.legacy_for_source(*parts))
        return legacy is not None and legacy.is_for(*parts)

    def _account(self, member_id: UUID | str, community: str) -> PointsAccount:
        member = _uuid(member_id)
        found = self._find(PointsAccount, PointsAccount.id_for(member, community))
        return found or PointsAccount(member_id=member, community=community)

    def _account_and_rule(
        self, member_id: UUID | str, community: str, rule_code: str
    ) -> tuple[PointsAccount, Rule]:
        member = self._member_in(member_id, community)
        rule = self._rule_in_force(community, rule_code)
        return self._account(member, community), rule

    def _member_in(self, member_id: UUID | str, community: str) -> UUID:
        member = self.member(member_id)
        self.require_kind(community, Kind.COMMUNITY)
        return member.id

    def _rule_in_force(self, community: str, rule_code: str) -> Rule:
        book = self._find(Rulebook, Rulebook.id_for(community))
        rule = book.rule(rule_code) if book is not None else None
        if rule is None:
            raise RuleNotInForceError(community, rule_code)
        return rule

    def _require_unused_source(
        self, account: PointsAccount, source_kind: str, source_id: str, rule: Rule
    ) -> None:
        if self._source_used(
            account.community, account.member_id, source_kind, source_id, rule.code
        ):
            raise SourceAlreadyUsedError(
                f"{source_kind} {source_id} has already been entered under rule {rule.code}"
                " for this member"
            )

    def _entry_and_account(self, entry_id: UUID | str) -> tuple[EntryKey, PointsAccount]:
        key = self.entry(entry_id)
        return key, self._get(PointsAccount, key.account_id, "PointsAccount")


def _uuid(value: UUID | str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise NotFoundError("Member", value) from None
