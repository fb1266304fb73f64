"""Rulebooks and points accounts through Governance, on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.application import Governance
from domain.commands.base import Meta
from domain.context import SYSTEM, Actor, acting
from domain.errors import (
    ApproverIsAwarderError,
    CapExceededError,
    DomainError,
    InsufficientBalanceError,
    NotFoundError,
    RuleNotInForceError,
    RuleTriggerError,
    SelfAwardError,
    SourceAlreadyUsedError,
    WrongJurisdictionKindError,
)
from domain.points import PointsAccount
from domain.points_entry import EntryKey
from domain.rulebook import Rulebook
from tests.fakes import FakeClock
from tests.writeside import assert_records_nothing, max_position

STAFF = Meta(actor=Actor("staff-1", "community_staff"))
CHECKER = Meta(actor=Actor("staff-2", "community_staff"))


def put(gov: Governance, community: str, code: str, **terms: Any) -> Any:
    defaults: dict[str, Any] = {
        "description": f"rule {code}",
        "points": 5,
        "kind": "award",
        "caps": None,
        "requires_approval": False,
        "trigger": "manual",
    }
    return gov.put_rule(STAFF, community, code, **{**defaults, **terms})


@pytest.fixture
def member(governance: Governance, admin: Meta, tree: dict[str, str]) -> UUID:
    result = governance.register_member(
        admin,
        name="王芳",
        phone="13800000001",
        kind="resident",
        party_member=False,
        home_grid=tree["grid"],
    )
    return result.id


@pytest.fixture
def community(tree: dict[str, str]) -> str:
    return tree["community"]


def award(gov: Governance, member: UUID, community: str, code: str, source: str, **kw: Any) -> Any:
    meta = kw.pop("meta", STAFF)
    return gov.award_points(
        meta,
        member_id=member,
        community=community,
        rule_code=code,
        source_kind="photo",
        source_id=source,
        **kw,
    )


def test_a_rule_is_saved_versioned_and_read_as_of_a_past_moment(
    governance: Governance, community: str, clock: FakeClock
) -> None:
    first = put(governance, community, "VOL")
    assert first.extra == {"rule_code": "VOL", "rule_version": 1}
    published_at = clock.now
    clock.advance(days=2)
    second = put(governance, community, "VOL", points=8)
    assert second.extra["rule_version"] == 2
    book = governance.rulebook(community)
    assert book.id == Rulebook.id_for(community)
    assert book.rule("VOL").points == 8
    assert book.rule_as_of("VOL", published_at + timedelta(days=1)).points == 5
    then = governance.repository.get(book.id, version=first.version)
    assert then.rule("VOL").version == 1


def test_an_identical_put_records_nothing_and_answers_the_version_in_force(
    governance: Governance, community: str, clock: FakeClock
) -> None:
    first = put(governance, community, "VOL")
    before = max_position(governance)
    clock.advance(hours=1)
    again = put(governance, community, "VOL")
    assert max_position(governance) == before
    assert (again.version, again.position, again.extra["rule_version"]) == (
        first.version,
        first.position,
        1,
    )


def test_rules_belong_to_communities_only(governance: Governance, tree: dict[str, str]) -> None:
    assert_records_nothing(
        governance, WrongJurisdictionKindError, lambda: put(governance, tree["grid"], "VOL")
    )
    assert_records_nothing(governance, NotFoundError, lambda: put(governance, "NOPE", "VOL"))


def test_a_retired_rule_can_no_longer_be_awarded(
    governance: Governance, member: UUID, community: str
) -> None:
    put(governance, community, "VOL")
    governance.retire_rule(STAFF, community, "VOL")
    assert governance.rulebook(community).rule("VOL") is None
    assert_records_nothing(
        governance, RuleNotInForceError, lambda: award(governance, member, community, "VOL", "p1")
    )


def test_an_award_is_saved_with_its_entry_key_in_one_transaction(
    governance: Governance, member: UUID, community: str
) -> None:
    put(governance, community, "VOL")
    result = award(governance, member, community, "VOL", "p1", quantity=2, note="扫雪")
    entry_id = result.extra["entry_id"]
    assert result.extra["status"] == "posted"
    assert entry_id == EntryKey.for_source(community, member, "photo", "p1", "VOL")
    account = governance.points_account(member, community)
    assert (result.id, account.balance, account.earned) == (account.id, 10, 10)
    key = governance.entry(entry_id)
    assert (key.account_id, key.points, key.rule_version, key.status) == (
        account.id,
        10,
        1,
        "posted",
    )
    positions = {
        governance.recorder.position_of(account.id, account.version),
        governance.recorder.position_of(key.id, key.version),
    }
    assert len(positions) == 2
    assert result.position == max(positions)


def test_the_ledger_events_name_source_rule_version_and_balance(
    governance: Governance, member: UUID, community: str
) -> None:
    put(governance, community, "VOL")
    award(governance, member, community, "VOL", "p1")
    account = governance.points_account(member, community)
    opened, awarded = governance.events.get(account.id)
    assert type(opened) is PointsAccount.Opened
    assert type(awarded) is PointsAccount.Awarded
    assert (awarded.kind, awarded.points, awarded.balance_after) == ("award", 5, 5)
    assert (awarded.rule_code, awarded.rule_version, awarded.source) == (
        "VOL",
        1,
        {"kind": "photo", "id": "p1"},
    )
    assert (awarded.awarded_by, awarded.approved_by, awarded.actor_id) == (
        "staff-1",
        None,
        "staff-1",
    )
    assert awarded.on == date(2026, 3, 2)


def test_a_pending_award_is_approved_by_a_second_person(
    governance: Governance, member: UUID, community: str
) -> None:
    put(governance, community, "CHECKED", requires_approval=True)
    result = award(governance, member, community, "CHECKED", "p1")
    entry_id = result.extra["entry_id"]
    assert result.extra["status"] == "pending"
    assert governance.points_account(member, community).balance == 0
    assert_records_nothing(
        governance, ApproverIsAwarderError, lambda: governance.approve_award(STAFF, entry_id)
    )
    approved = governance.approve_award(CHECKER, entry_id)
    assert approved.extra == {"entry_id": entry_id, "status": "posted"}
    account = governance.points_account(member, community)
    assert (account.balance, account.pending) == (5, 0)
    assert governance.entry(entry_id).approved_by == "staff-2"


def test_a_rejected_award_never_reaches_the_balance(
    governance: Governance, member: UUID, community: str
) -> None:
    put(governance, community, "CHECKED", requires_approval=True)
    entry_id = award(governance, member, community, "CHECKED", "p1").extra["entry_id"]
    result = governance.reject_award(CHECKER, entry_id, reason="照片与事项不符")
    assert result.extra["status"] == "rejected"
    account = governance.points_account(member, community)
    assert (account.balance, account.pending, account.pending_awards) == (0, 0, {})


def test_the_same_source_never_earns_the_same_rule_twice(
    governance: Governance, member: UUID, community: str
) -> None:
    put(governance, community, "VOL")
    put(governance, community, "CLEAN")
    award(governance, member, community, "VOL", "p1")
    assert_records_nothing(
        governance,
        SourceAlreadyUsedError,
        lambda: award(governance, member, community, "VOL", "p1"),
    )
    award(governance, member, community, "CLEAN", "p1")
    assert governance.points_account(member, community).balance == 10


def test_two_writers_racing_on_one_source_record_it_once(
    governance: Governance, member: UUID, community: str
) -> None:
    put(governance, community, "VOL")
    outcomes: list[object] = []
    barrier = threading.Barrier(4)

    def race() -> None:
        barrier.wait()
        try:
            outcomes.append(award(governance, member, community, "VOL", "same-photo"))
        except SourceAlreadyUsedError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(o, SourceAlreadyUsedError) for o in outcomes) == 3
    account = governance.points_account(member, community)
    awarded = [e for e in governance.events.get(account.id) if type(e) is PointsAccount.Awarded]
    assert (len(awarded), account.balance) == (1, 5)


def test_refused_commands_record_nothing(
    governance: Governance, member: UUID, community: str
) -> None:
    put(governance, community, "CAPPED", caps={"per_day": 5})
    put(governance, community, "ATTEND", trigger="activity_attendance")
    resident = Meta(actor=Actor(str(member), "resident"))
    cases: list[tuple[type[DomainError], Any]] = [
        (
            SelfAwardError,
            lambda: award(governance, member, community, "CAPPED", "a", meta=resident),
        ),
        (CapExceededError, lambda: award(governance, member, community, "CAPPED", "a", quantity=2)),
        (RuleTriggerError, lambda: award(governance, member, community, "ATTEND", "a")),
        (RuleNotInForceError, lambda: award(governance, member, community, "NOPE", "a")),
        (NotFoundError, lambda: award(governance, UUID(int=7), community, "CAPPED", "a")),
        (
            InsufficientBalanceError,
            lambda: governance.redeem_points(
                STAFF, member_id=member, community=community, item="油", points=1
            ),
        ),
        (NotFoundError, lambda: governance.approve_award(CHECKER, UUID(int=9))),
    ]
    for error, command in cases:
        assert_records_nothing(governance, error, command)
    with pytest.raises(NotFoundError):
        governance.points_account(member, community)


def test_deductions_redemptions_reversals_and_expiry_reconcile(
    governance: Governance, member: UUID, community: str, clock: FakeClock
) -> None:
    put(governance, community, "VOL")
    put(governance, community, "LITTER", kind="deduction", points=3)
    award(governance, member, community, "VOL", "p1", quantity=4)
    clock.advance(days=1)
    award(governance, member, community, "VOL", "p2")
    deduction = governance.deduct_points(
        STAFF,
        member_id=member,
        community=community,
        rule_code="LITTER",
        source_kind="ticket",
        source_id="t-1",
        note="乱扔垃圾",
    )
    redemption = governance.redeem_points(
        STAFF, member_id=member, community=community, item="洗衣液", points=12
    )
    reversal = governance.reverse_entry(STAFF, deduction.extra["entry_id"], reason="误扣")
    assert reversal.extra["reverses"] == deduction.extra["entry_id"]
    assert governance.entry(deduction.extra["entry_id"]).status == "reversed"
    clock.advance(days=1)
    expiry = governance.expire_points(
        STAFF, member_id=member, community=community, before=date(2026, 3, 3)
    )
    account = governance.points_account(member, community)
    assert expiry.extra["points"] == 5  # day one's 20, less the 15 spent first from them
    assert (account.earned, account.deducted, account.redeemed, account.expired) == (25, 0, 12, 5)
    assert account.balance == 25 - 0 - 12 - 5
    assert account.lots == {"2026-03-03": 8}
    assert governance.entry(redemption.extra["entry_id"]).kind == "redemption"


def test_nothing_to_expire_records_nothing(
    governance: Governance, member: UUID, community: str
) -> None:
    put(governance, community, "VOL")
    award(governance, member, community, "VOL", "p1")
    before = max_position(governance)
    result = governance.expire_points(
        STAFF, member_id=member, community=community, before=date(2026, 3, 2)
    )
    assert max_position(governance) == before
    assert result.extra == {"entry_id": None, "points": 0}


def test_an_account_can_be_read_as_it_was(
    governance: Governance, member: UUID, community: str
) -> None:
    put(governance, community, "VOL")
    first = award(governance, member, community, "VOL", "p1")
    award(governance, member, community, "VOL", "p2")
    then = governance.repository.get(first.id, version=first.version)
    assert then.balance == 5
    assert governance.points_account(member, community).balance == 10


def test_a_trigger_awards_each_source_exactly_once(
    governance: Governance, member: UUID, community: str
) -> None:
    put(governance, community, "ATTEND", trigger="activity_attendance")
    put(governance, community, "ATTEND2", trigger="activity_attendance", points=2)
    put(governance, community, "REPORT", trigger="valid_report")

    def trigger(rule_code: str | None = None) -> list[Any]:
        with acting(SYSTEM, now=governance.clock()):
            made = governance._automatic_awards(
                trigger="activity_attendance",
                community=community,
                member_id=member,
                source_kind="activity",
                source_id="act-1",
                rule_code=rule_code,
            )
        if made:
            governance.save(*made)
        return made

    assert len(trigger("ATTEND")) == 2
    made = trigger()
    assert [type(a) for a in made] == [PointsAccount, EntryKey]
    assert trigger() == []
    account = governance.points_account(member, community)
    assert (account.balance, account.earned) == (7, 7)
    awarded = [e for e in governance.events.get(account.id) if type(e) is PointsAccount.Awarded]
    assert {e.awarded_by for e in awarded} == {"system"}


def test_a_trigger_without_a_rulebook_awards_nothing(
    governance: Governance, member: UUID, tree: dict[str, str]
) -> None:
    with acting(SYSTEM, now=governance.clock()):
        made = governance._automatic_awards(
            trigger="valid_report",
            community=tree["other_community"],
            member_id=member,
            source_kind="ticket",
            source_id="t-1",
        )
    assert made == []


def test_a_rule_is_required_in_force_with_its_trigger(
    governance: Governance, community: str
) -> None:
    put(governance, community, "ATTEND", trigger="activity_attendance")
    put(governance, community, "VOL")
    governance.require_rule(community, "ATTEND", "activity_attendance")
    with pytest.raises(RuleTriggerError):
        governance.require_rule(community, "VOL", "activity_attendance")
    with pytest.raises(RuleNotInForceError):
        governance.require_rule(community, "NOPE", "activity_attendance")
