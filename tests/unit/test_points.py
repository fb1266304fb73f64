from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain import points_policy as policy
from domain.context import Actor, acting
from domain.errors import (
    ApproverIsAwarderError,
    CapExceededError,
    DomainError,
    ExpiryPeriodOpenError,
    InsufficientBalanceError,
    PointsEntryTransitionError,
    PointsValueError,
    ReversalBeyondBalanceError,
    RuleKindError,
    RuleTriggerError,
    SelfApprovalError,
    SelfAwardError,
    SelfReversalError,
)
from domain.points import SYSTEM_AWARDER, PointsAccount
from domain.points_entry import EntryKey
from domain.rulebook import Rule, Rulebook

COMMUNITY = "HG-WH-BH"
STAFF = Actor("staff-1", "community_staff")
CHECKER = Actor("staff-2", "community_staff")
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def rule(code: str, **terms: Any) -> Rule:
    defaults: dict[str, Any] = {
        "description": code,
        "points": 5,
        "kind": "award",
        "caps": None,
        "requires_approval": False,
        "trigger": "manual",
    }
    with acting(STAFF, now=T0 - timedelta(days=400)):
        book = Rulebook(community=COMMUNITY)
        return book.put_rule(code, **{**defaults, **terms})


VOL = rule("VOL")
CAPPED = rule("CAPPED", caps={"per_day": 10, "per_month": 25, "per_year": 40})
CHECKED = rule("CHECKED", requires_approval=True, caps={"per_day": 10})
LITTER = rule("LITTER", kind="deduction", points=3)
ATTEND = rule("ATTEND", trigger="activity_attendance", caps={"per_day": 8})


class Ledger:
    """An account and the keys of its entries, acted on at a moving time."""

    def __init__(self) -> None:
        self.member = uuid4()
        self.resident = Actor(str(self.member), "resident")
        self.now = T0
        with acting(STAFF, now=self.now):
            self.account = PointsAccount(member_id=self.member, community=COMMUNITY)
        self.account.collect_events()

    def act(self, command: Any, actor: Actor = STAFF) -> Any:
        with acting(actor, now=self.now):
            return command(self.account)

    def award(self, r: Rule = VOL, source: str = "s1", actor: Actor = STAFF, **kw: Any) -> EntryKey:
        return self.act(lambda a: a.award(r, source={"kind": "photo", "id": source}, **kw), actor)

    def events(self) -> list[type]:
        return [type(e) for e in self.account.collect_events()]

    def refused(self, error: type[DomainError], command: Any, actor: Actor = STAFF) -> None:
        self.account.collect_events()
        with pytest.raises(error):
            self.act(command, actor)
        assert self.account.collect_events() == []


def source(i: object) -> dict[str, str]:
    return {"kind": "photo", "id": str(i)}


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


def test_an_award_without_approval_is_posted_at_once(ledger: Ledger) -> None:
    key = ledger.award()
    assert ledger.events() == [PointsAccount.Awarded]
    assert (ledger.account.balance, ledger.account.earned) == (5, 5)
    assert key.status == "posted"
    assert [type(e) for e in key.collect_events()] == [EntryKey.Recorded]


def test_an_award_is_keyed_by_its_source_and_rule(ledger: Ledger) -> None:
    key = ledger.award(source="photo-7")
    assert key.id == EntryKey.for_source(COMMUNITY, ledger.member, "photo", "photo-7", "VOL")
    assert key.account_id == ledger.account.id


def test_a_source_key_differs_by_every_part() -> None:
    member = uuid4()
    base = EntryKey.for_source(COMMUNITY, member, "photo", "1", "VOL")
    assert base != EntryKey.for_source("OTHER", member, "photo", "1", "VOL")
    assert base != EntryKey.for_source(COMMUNITY, uuid4(), "photo", "1", "VOL")
    assert base != EntryKey.for_source(COMMUNITY, member, "ticket", "1", "VOL")
    assert base != EntryKey.for_source(COMMUNITY, member, "photo", "2", "VOL")
    assert base != EntryKey.for_source(COMMUNITY, member, "photo", "1", "OTHER")


def test_an_award_multiplies_the_rule_points_by_the_quantity(ledger: Ledger) -> None:
    key = ledger.award(quantity=3)
    assert (key.points, ledger.account.balance) == (15, 15)


def test_an_award_records_the_rule_version_source_and_awarder(ledger: Ledger) -> None:
    ledger.award(note="扫雪")
    (awarded,) = ledger.account.collect_events()
    assert (awarded.entry_id, awarded.kind, awarded.points, awarded.delta) == (
        EntryKey.for_source(COMMUNITY, ledger.member, "photo", "s1", "VOL"),
        "award",
        5,
        5,
    )
    assert (awarded.balance_after, awarded.rule_code, awarded.rule_version) == (5, "VOL", 1)
    assert awarded.source == {"kind": "photo", "id": "s1"}
    assert (awarded.awarded_by, awarded.approved_by, awarded.note) == ("staff-1", None, "扫雪")
    assert awarded.on == date(2026, 3, 2)


def test_an_award_needing_approval_is_pending_and_leaves_the_balance(ledger: Ledger) -> None:
    key = ledger.award(CHECKED)
    (awarded,) = ledger.account.collect_events()
    assert (awarded.status, awarded.delta, awarded.balance_after) == ("pending", 0, 0)
    assert (ledger.account.balance, ledger.account.pending, key.status) == (0, 5, "pending")
    assert list(ledger.account.pending_awards) == [str(key.id)]


def test_an_award_must_follow_an_award_rule(ledger: Ledger) -> None:
    ledger.refused(RuleKindError, lambda a: a.award(LITTER, source=source(1)))


def test_an_automatic_rule_cannot_be_awarded_by_hand(ledger: Ledger) -> None:
    ledger.refused(RuleTriggerError, lambda a: a.award(ATTEND, source=source(1)))


def test_nobody_awards_points_to_themselves(ledger: Ledger) -> None:
    ledger.refused(SelfAwardError, lambda a: a.award(VOL, source=source(1)), ledger.resident)


def test_nobody_awards_themselves_by_writing_their_id_another_way(ledger: Ledger) -> None:
    disguised = Actor(str(ledger.member).upper(), "resident")
    ledger.refused(SelfAwardError, lambda a: a.award(VOL, source=source(1)), disguised)


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True])
def test_the_quantity_is_a_whole_number_of_at_least_one(ledger: Ledger, quantity: Any) -> None:
    ledger.refused(PointsValueError, lambda a: a.award(VOL, source=source(1), quantity=quantity))


@pytest.mark.parametrize("bad", [{"kind": "", "id": "1"}, {"kind": "photo"}, "photo-1"])
def test_an_award_names_its_source(ledger: Ledger, bad: Any) -> None:
    ledger.refused(PointsValueError, lambda a: a.award(VOL, source=bad))


def test_the_day_cap_holds_and_resets_at_local_midnight(ledger: Ledger) -> None:
    ledger.now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 local
    ledger.award(CAPPED, "a", quantity=2)
    ledger.refused(CapExceededError, lambda a: a.award(CAPPED, source=source("b")))
    ledger.now = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 00:00 local, next day
    ledger.award(CAPPED, "b", quantity=2)
    assert ledger.account.balance == 20


def test_the_month_cap_holds_across_days(ledger: Ledger) -> None:
    for day in range(5):
        ledger.now = T0 + timedelta(days=day)
        ledger.award(CAPPED, f"d{day}")
    ledger.refused(CapExceededError, lambda a: a.award(CAPPED, source=source("x")))
    ledger.now = datetime(2026, 4, 1, 2, tzinfo=UTC)
    ledger.award(CAPPED, "april")


def test_the_year_cap_holds_across_months(ledger: Ledger) -> None:
    for month in range(1, 9):
        ledger.now = datetime(2026, month, 3, 2, tzinfo=UTC)
        ledger.award(CAPPED, f"m{month}")
    ledger.now = datetime(2026, 9, 3, 2, tzinfo=UTC)
    ledger.refused(CapExceededError, lambda a: a.award(CAPPED, source=source("x")))
    ledger.now = datetime(2027, 1, 3, 2, tzinfo=UTC)
    ledger.award(CAPPED, "next-year")


def test_pending_awards_count_against_the_caps(ledger: Ledger) -> None:
    ledger.award(CHECKED, "a", quantity=2)
    ledger.refused(CapExceededError, lambda a: a.award(CHECKED, source=source("b")))


def test_rejecting_a_pending_award_frees_its_place_under_the_cap(ledger: Ledger) -> None:
    key = ledger.award(CHECKED, "a", quantity=2)
    ledger.act(lambda a: a.reject(key, reason="照片不清楚"), CHECKER)
    assert ledger.events() == [PointsAccount.Awarded, PointsAccount.AwardRejected]
    assert (ledger.account.pending, ledger.account.pending_awards, key.status) == (
        0,
        {},
        "rejected",
    )
    ledger.award(CHECKED, "b", quantity=2)


def test_approving_posts_a_pending_award_and_names_the_approver(ledger: Ledger) -> None:
    key = ledger.award(CHECKED)
    ledger.account.collect_events()
    ledger.act(lambda a: a.approve(key), CHECKER)
    (approved,) = ledger.account.collect_events()
    assert type(approved) is PointsAccount.AwardApproved
    assert (approved.delta, approved.balance_after, approved.approved_by) == (5, 5, "staff-2")
    assert (approved.awarded_by, approved.rule_code, approved.source) == (
        "staff-1",
        "CHECKED",
        {"kind": "photo", "id": "s1"},
    )
    assert (ledger.account.balance, ledger.account.earned, ledger.account.pending) == (5, 5, 0)
    assert (key.status, key.approved_by) == ("posted", "staff-2")


def test_whoever_awarded_may_not_approve(ledger: Ledger) -> None:
    key = ledger.award(CHECKED)
    key.collect_events()
    ledger.refused(ApproverIsAwarderError, lambda a: a.approve(key), STAFF)
    assert (key.collect_events(), key.status) == ([], "pending")


def test_a_member_may_not_approve_an_award_to_themselves(ledger: Ledger) -> None:
    key = ledger.award(CHECKED)
    key.collect_events()
    ledger.refused(SelfApprovalError, lambda a: a.approve(key), ledger.resident)
    assert (key.collect_events(), key.status) == ([], "pending")


def test_an_automatic_award_may_be_approved_by_anyone_but_the_member(ledger: Ledger) -> None:
    pending = rule("PEND-AUTO", trigger="valid_report", requires_approval=True)
    key = ledger.act(lambda a: a.award_automatically(pending, source=source(1)))
    ledger.refused(SelfApprovalError, lambda a: a.approve(key), ledger.resident)
    ledger.act(lambda a: a.approve(key), STAFF)
    assert ledger.account.balance == 5


def test_only_a_pending_award_can_be_approved_or_rejected(ledger: Ledger) -> None:
    posted = ledger.award()
    ledger.refused(PointsEntryTransitionError, lambda a: a.approve(posted), CHECKER)
    ledger.refused(PointsEntryTransitionError, lambda a: a.reject(posted, reason="x"), CHECKER)
    pending = ledger.award(CHECKED, "p")
    ledger.act(lambda a: a.approve(pending), CHECKER)
    ledger.refused(PointsEntryTransitionError, lambda a: a.approve(pending), CHECKER)


def test_a_rejection_needs_a_reason(ledger: Ledger) -> None:
    key = ledger.award(CHECKED)
    ledger.refused(PointsValueError, lambda a: a.reject(key, reason=" "), CHECKER)


def test_a_deduction_is_posted_at_once_and_may_take_the_balance_below_zero(
    ledger: Ledger,
) -> None:
    key = ledger.act(lambda a: a.deduct(LITTER, source={"kind": "ticket", "id": "t1"}, note="乱扔"))
    (deducted,) = ledger.account.collect_events()
    assert type(deducted) is PointsAccount.Deducted
    assert (deducted.delta, deducted.balance_after, deducted.awarded_by) == (-3, -3, "staff-1")
    assert (ledger.account.balance, ledger.account.deducted, key.status) == (-3, 3, "posted")
    assert key.id == EntryKey.for_source(COMMUNITY, ledger.member, "ticket", "t1", "LITTER")


def test_a_deduction_must_follow_a_deduction_rule_and_say_why(ledger: Ledger) -> None:
    ledger.refused(RuleKindError, lambda a: a.deduct(VOL, source=source(1), note="x"))
    ledger.refused(PointsValueError, lambda a: a.deduct(LITTER, source=source(1), note=""))


def test_a_deduction_rule_with_a_cap_holds_to_it(ledger: Ledger) -> None:
    capped = rule("NOISE", kind="deduction", points=3, caps={"per_day": 5})
    ledger.act(lambda a: a.deduct(capped, source=source(1), note="x"))
    ledger.refused(CapExceededError, lambda a: a.deduct(capped, source=source(2), note="x"))


def test_a_debt_from_a_deduction_is_paid_off_before_points_form_a_lot(ledger: Ledger) -> None:
    ledger.act(lambda a: a.deduct(LITTER, source=source(1), note="x"))
    ledger.award(VOL)
    assert (ledger.account.balance, ledger.account.lots) == (2, {"2026-03-02": 2})


def test_a_redemption_spends_points_but_never_beyond_the_balance(ledger: Ledger) -> None:
    ledger.award(VOL, quantity=2)
    ledger.refused(InsufficientBalanceError, lambda a: a.redeem(item="大米", points=11))
    key = ledger.act(lambda a: a.redeem(item="大米", points=10))
    (redeemed,) = ledger.account.collect_events()
    assert type(redeemed) is PointsAccount.Redeemed
    assert (redeemed.delta, redeemed.balance_after, redeemed.source) == (
        -10,
        0,
        {"kind": "item", "id": "大米"},
    )
    assert (ledger.account.balance, ledger.account.redeemed, key.kind) == (0, 10, "redemption")


def test_nothing_can_be_redeemed_from_a_balance_below_zero(ledger: Ledger) -> None:
    ledger.act(lambda a: a.deduct(LITTER, source=source(1), note="x"))
    ledger.refused(InsufficientBalanceError, lambda a: a.redeem(item="皂", points=1))


@pytest.mark.parametrize(("item", "points"), [("皂", 0), ("皂", -2), ("皂", 1.0), (" ", 1)])
def test_a_redemption_names_an_item_and_whole_points(
    ledger: Ledger, item: str, points: Any
) -> None:
    ledger.award(VOL)
    ledger.refused(PointsValueError, lambda a: a.redeem(item=item, points=points))


def test_reversing_an_award_lowers_earned_and_the_balance(ledger: Ledger) -> None:
    key = ledger.award(VOL, quantity=2)
    ledger.account.collect_events()
    reversal = ledger.act(lambda a: a.reverse(key, reason="重复登记"))
    (reversed_,) = ledger.account.collect_events()
    assert type(reversed_) is PointsAccount.EntryReversed
    assert (reversed_.reverses, reversed_.delta, reversed_.balance_after) == (key.id, -10, 0)
    assert (reversed_.rule_code, reversed_.source) == ("VOL", {"kind": "entry", "id": str(key.id)})
    assert (ledger.account.balance, ledger.account.earned) == (0, 0)
    assert (key.status, key.reversed_by, reversal.kind) == ("reversed", reversal.id, "reversal")


def test_reversing_an_award_may_not_take_the_balance_below_zero(ledger: Ledger) -> None:
    key = ledger.award(VOL, quantity=2)
    ledger.act(lambda a: a.redeem(item="油", points=6))
    ledger.refused(ReversalBeyondBalanceError, lambda a: a.reverse(key, reason="x"))
    assert key.status == "posted"


def test_reversing_a_deduction_or_a_redemption_gives_the_points_back(ledger: Ledger) -> None:
    ledger.award(VOL)
    redemption = ledger.act(lambda a: a.redeem(item="油", points=5))
    deduction = ledger.act(lambda a: a.deduct(LITTER, source=source(9), note="x"))
    ledger.act(lambda a: a.reverse(deduction, reason="误扣"))
    ledger.act(lambda a: a.reverse(redemption, reason="退货"))
    account = ledger.account
    assert (account.balance, account.deducted, account.redeemed, account.earned) == (5, 0, 0, 5)


def test_a_deduction_can_be_reversed_while_the_balance_is_below_zero(ledger: Ledger) -> None:
    first = ledger.act(lambda a: a.deduct(LITTER, source=source(1), note="x"))
    ledger.act(lambda a: a.deduct(LITTER, source=source(2), note="x"))
    ledger.act(lambda a: a.reverse(first, reason="误扣"))
    assert ledger.account.balance == -3


def test_an_entry_is_reversed_once_and_only_if_posted(ledger: Ledger) -> None:
    posted = ledger.award()
    reversal = ledger.act(lambda a: a.reverse(posted, reason="x"))
    ledger.refused(PointsEntryTransitionError, lambda a: a.reverse(posted, reason="x"))
    ledger.refused(PointsEntryTransitionError, lambda a: a.reverse(reversal, reason="x"))
    pending = ledger.award(CHECKED, "p")
    ledger.refused(PointsEntryTransitionError, lambda a: a.reverse(pending, reason="x"))
    ledger.act(lambda a: a.reject(pending, reason="x"), CHECKER)
    ledger.refused(PointsEntryTransitionError, lambda a: a.reverse(pending, reason="x"))


def test_an_expiry_cannot_be_reversed(ledger: Ledger) -> None:
    ledger.award()
    ledger.now += timedelta(days=1)
    expiry = ledger.act(lambda a: a.expire(before=date(2026, 3, 3)))
    ledger.refused(PointsEntryTransitionError, lambda a: a.reverse(expiry, reason="x"))


def test_a_member_may_not_reverse_entries_of_their_own_account(ledger: Ledger) -> None:
    key = ledger.act(lambda a: a.deduct(LITTER, source=source(1), note="x"))
    ledger.refused(SelfReversalError, lambda a: a.reverse(key, reason="x"), ledger.resident)


def test_a_reversal_needs_a_reason(ledger: Ledger) -> None:
    key = ledger.award()
    ledger.refused(PointsValueError, lambda a: a.reverse(key, reason=""))


def test_a_reversal_frees_its_place_under_the_cap_within_the_same_period(ledger: Ledger) -> None:
    key = ledger.award(CAPPED, "a", quantity=2)
    ledger.act(lambda a: a.reverse(key, reason="数量录错"))
    ledger.award(CAPPED, "b", quantity=2)
    assert ledger.account.cap_buckets["CAPPED"]["day_points"] == 10


def test_reversing_an_award_takes_back_its_own_days_points_first(ledger: Ledger) -> None:
    ledger.award(VOL, "old")
    ledger.now += timedelta(days=1)
    recent = ledger.award(VOL, "new")
    ledger.act(lambda a: a.reverse(recent, reason="x"))
    assert ledger.account.lots == {"2026-03-02": 5}


def test_expiry_takes_the_points_earned_before_the_date(ledger: Ledger) -> None:
    ledger.award(VOL, "d1")
    ledger.now += timedelta(days=1)
    ledger.award(VOL, "d2", quantity=2)
    ledger.now += timedelta(days=1)
    ledger.account.collect_events()
    key = ledger.act(lambda a: a.expire(before=date(2026, 3, 3)))
    (expired,) = ledger.account.collect_events()
    assert type(expired) is PointsAccount.PointsExpired
    assert (expired.points, expired.delta, expired.balance_after) == (5, -5, 10)
    assert expired.lots == {"2026-03-02": 5}
    assert (ledger.account.expired, ledger.account.lots) == (5, {"2026-03-03": 10})
    assert (key.kind, key.source) == ("expiry", {"kind": "expiry", "id": "2026-03-03"})


def test_spending_consumes_the_oldest_points_first(ledger: Ledger) -> None:
    ledger.award(VOL, "d1")
    ledger.now += timedelta(days=1)
    ledger.award(VOL, "d2")
    ledger.act(lambda a: a.redeem(item="皂", points=7))
    ledger.now += timedelta(days=1)
    assert ledger.act(lambda a: a.expire(before=date(2026, 3, 3))) is None
    assert ledger.act(lambda a: a.expire(before=date(2026, 3, 4))).points == 3


def test_nothing_to_expire_records_nothing(ledger: Ledger) -> None:
    ledger.award()
    ledger.account.collect_events()
    assert ledger.act(lambda a: a.expire(before=date(2026, 3, 2))) is None
    assert ledger.account.collect_events() == []


def test_points_of_a_day_not_yet_over_cannot_expire(ledger: Ledger) -> None:
    ledger.award()
    ledger.refused(ExpiryPeriodOpenError, lambda a: a.expire(before=date(2026, 3, 3)))


def test_an_automatic_award_is_made_by_the_system(ledger: Ledger) -> None:
    key = ledger.act(lambda a: a.award_automatically(ATTEND, source=source("act-1")))
    (awarded,) = ledger.account.collect_events()
    assert (awarded.awarded_by, awarded.clipped_from, key.awarded_by) == (
        SYSTEM_AWARDER,
        None,
        SYSTEM_AWARDER,
    )
    assert ledger.account.balance == 5


def test_an_automatic_award_is_clipped_to_what_the_cap_leaves(ledger: Ledger) -> None:
    ledger.act(lambda a: a.award_automatically(ATTEND, source=source("act-1")))
    ledger.account.collect_events()
    key = ledger.act(lambda a: a.award_automatically(ATTEND, source=source("act-2")))
    (awarded,) = ledger.account.collect_events()
    assert (key.points, awarded.clipped_from) == (3, 5)
    assert ledger.act(lambda a: a.award_automatically(ATTEND, source=source("act-3"))) is None
    assert ledger.account.collect_events() == []


def test_a_manual_rule_is_not_awarded_automatically(ledger: Ledger) -> None:
    ledger.refused(RuleTriggerError, lambda a: a.award_automatically(VOL, source=source(1)))


def test_the_totals_reconcile_and_the_state_keeps_no_entry_list(ledger: Ledger) -> None:
    for i in range(30):
        ledger.now = T0 + timedelta(hours=5 * i)
        ledger.award(VOL, f"a{i}")
    ledger.act(lambda a: a.deduct(LITTER, source=source("d"), note="x"))
    ledger.act(lambda a: a.redeem(item="油", points=40))
    ledger.now += timedelta(days=1)
    ledger.act(lambda a: a.expire(before=date(2026, 3, 6)))
    account = ledger.account
    assert account.balance == account.earned - account.deducted - account.redeemed - account.expired
    assert sum(account.lots.values()) == account.balance
    assert set(vars(account)) == {
        "_id",
        "_version",
        "_created_on",
        "_modified_on",
        "_pending_events",
        "member_id",
        "community",
        "balance",
        "earned",
        "deducted",
        "redeemed",
        "expired",
        "pending",
        "pending_awards",
        "cap_buckets",
        "lots",
    }


def test_replaying_the_events_rebuilds_the_same_account(ledger: Ledger) -> None:
    with acting(STAFF, now=T0):
        account = PointsAccount(member_id=ledger.member, community=COMMUNITY)
    ledger.account = account
    key = ledger.award(CHECKED)
    ledger.act(lambda a: a.approve(key), CHECKER)
    ledger.act(lambda a: a.deduct(LITTER, source=source(1), note="x"))
    copy = None
    for e in account.collect_events():
        copy = e.mutate(copy)
    assert copy == account


def test_an_account_is_named_by_its_member_and_community() -> None:
    member: UUID = uuid4()
    assert PointsAccount.id_for(member, "A") == PointsAccount.id_for(member, "A")
    assert PointsAccount.id_for(member, "A") != PointsAccount.id_for(member, "B")


def test_lots_stay_in_date_order_even_when_a_credit_comes_dated_earlier() -> None:
    lots = {"2026-03-05": 4}
    policy.credit_lots(lots, balance_before=4, points=3, on=date(2026, 3, 1))
    assert list(lots.items()) == [("2026-03-01", 3), ("2026-03-05", 4)]
    policy.debit_lots(lots, 5)
    assert lots == {"2026-03-05": 2}


def test_a_source_differing_only_by_surrounding_spaces_is_the_same_source() -> None:
    from domain.points_entry import EntryKey

    member = uuid4()
    assert EntryKey.for_source("C", member, "ticket", "42", "R") == EntryKey.for_source(
        "C", member, " ticket", "42 ", "R"
    )


def test_an_actor_is_recognised_as_the_member_whatever_the_case_of_the_id() -> None:
    from domain.context import Actor

    member = uuid4()
    assert Actor(str(member).upper(), "resident").is_member(member)
    assert Actor(f" {member} ", "resident").is_member(member)
    assert not Actor("staff-1", "community_staff").is_member(member)
