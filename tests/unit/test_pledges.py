"""Pledges (承诺/践诺), aggregate level: every transition and rule, allowed and refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.context import Actor, acting
from domain.errors import (
    DomainError,
    InvalidTransitionError,
    InvalidValueError,
    PledgeAlreadyReviewedError,
    PledgeDailyHoursExceededError,
    PledgeNotYetDueError,
    PledgeSelfReviewError,
    PledgeSelfVerificationError,
    PledgeSessionAlreadyVerifiedError,
    PledgeSessionDateError,
    PledgeSessionNotFoundError,
    RuleViolationError,
)
from domain.pledge import Pledge

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 16:00 on 2 March in Shanghai
TODAY = date(2026, 3, 2)
DUE = date(2026, 3, 31)
END_OF_DUE = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # midnight 1 April in Shanghai
MEMBER = uuid4()
RESIDENT = Actor(str(MEMBER), "resident")
STAFF = Actor("staff-1", "community_staff")
WORKER = Actor("gw-1", "grid_worker")
SYSTEM = Actor("system", "system")


def make(now: datetime = NOW, **overrides: object) -> Pledge:
    fields: dict[str, object] = {
        "member_id": MEMBER,
        "community": "HG-WH-BH",
        "kind": "service_item",
        "title": "每周两次陪伴独居老人",
        "target_hours": Decimal("4"),
        "due_on": DUE,
        **overrides,
    }
    with acting(RESIDENT, now=now):
        return Pledge.make(**fields)  # type: ignore[arg-type]  # fields of mixed types, overridden per test


def accepted(**overrides: object) -> Pledge:
    pledge = make(**overrides)
    with acting(STAFF, now=NOW):
        pledge.accept()
    pledge.collect_events()
    return pledge


def with_session(hours: str = "1.5", on: date = TODAY, **overrides: object) -> Pledge:
    pledge = accepted(**overrides)
    with acting(RESIDENT, now=NOW):
        pledge.log_session(Decimal(hours), on)
    pledge.collect_events()
    return pledge


def fulfilled() -> Pledge:
    pledge = with_session("4")
    with acting(WORKER, now=NOW):
        pledge.verify_session(1)
    pledge.collect_events()
    return pledge


def lapsed() -> Pledge:
    pledge = accepted()
    with acting(SYSTEM, now=END_OF_DUE):
        pledge.lapse()
    pledge.collect_events()
    return pledge


def assert_refused(
    pledge: Pledge,
    error: type[DomainError],
    action: Callable[[Pledge], object],
    actor: Actor = STAFF,
    now: datetime = NOW,
) -> None:
    pledge.collect_events()
    before = (pledge.version, pledge.status, pledge.verified_hours, len(pledge.sessions))
    with acting(actor, now=now), pytest.raises(error):
        action(pledge)
    assert pledge.collect_events() == []
    after = (pledge.version, pledge.status, pledge.verified_hours, len(pledge.sessions))
    assert after == before


# --- making a pledge ---


def test_a_member_pledges_with_target_hours_and_a_due_date() -> None:
    pledge = make(target_hours="12.345")
    assert [type(e) for e in pledge.collect_events()] == [Pledge.Pledged]
    assert pledge.status == "pledged"
    assert pledge.member_id == MEMBER
    assert pledge.community == "HG-WH-BH"
    assert pledge.kind == "service_item"
    assert pledge.target_hours == Decimal("12.35")
    assert pledge.verified_hours == Decimal("0.00")
    assert pledge.due_on == DUE
    assert pledge.sessions == []
    assert pledge.review is None
    assert pledge.pledged_at == NOW
    assert (pledge.accepted_at, pledge.fulfilled_at) == (None, None)


@pytest.mark.parametrize("kind", ["service_item", "pioneer_post", "commitment"])
def test_each_kind_of_pledge_can_be_made(kind: str) -> None:
    assert make(kind=kind).kind == kind


def test_a_pledge_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(InvalidValueError):
        make(kind="donation")


def test_a_pledge_needs_a_title() -> None:
    with pytest.raises(InvalidValueError):
        make(title="   ")


@pytest.mark.parametrize("target", ["0", "-1", "0.004", "NaN", "Infinity", "lots", True])
def test_a_pledge_needs_a_positive_target(target: object) -> None:
    with pytest.raises(InvalidValueError):
        make(target_hours=target)


def test_a_target_above_ten_thousand_hours_is_refused() -> None:
    assert make(target_hours="10000").target_hours == Decimal("10000.00")
    with pytest.raises(InvalidValueError):
        make(target_hours="10000.01")


def test_a_pledge_may_fall_due_today() -> None:
    assert make(due_on=TODAY).due_on == TODAY


def test_a_due_date_before_today_is_refused() -> None:
    with pytest.raises(InvalidValueError):
        make(due_on=date(2026, 3, 1))


def test_today_is_the_local_date_in_shanghai() -> None:
    late_evening_utc = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 01:00 on 3 March locally
    with pytest.raises(InvalidValueError):
        make(now=late_evening_utc, due_on=date(2026, 3, 2))


def test_a_due_date_must_be_a_date_not_a_time() -> None:
    with pytest.raises(InvalidValueError):
        make(due_on=datetime(2026, 3, 31, tzinfo=UTC))


# --- accepting ---


def test_the_community_accepts_a_pledge() -> None:
    pledge = make()
    pledge.collect_events()
    later = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    with acting(STAFF, now=later):
        pledge.accept()
    assert [type(e) for e in pledge.collect_events()] == [Pledge.Accepted]
    assert pledge.status == "accepted"
    assert pledge.accepted_at == later


@pytest.mark.parametrize("state", [accepted, fulfilled, lapsed])
def test_only_a_pledged_pledge_can_be_accepted(state: Callable[[], Pledge]) -> None:
    assert_refused(state(), InvalidTransitionError, lambda p: p.accept())


def test_a_withdrawn_pledge_cannot_be_accepted() -> None:
    pledge = make()
    with acting(RESIDENT, now=NOW):
        pledge.withdraw("搬家了")
    assert_refused(pledge, InvalidTransitionError, lambda p: p.accept())


# --- logging sessions ---


def test_sessions_are_logged_and_numbered_on_an_accepted_pledge() -> None:
    pledge = accepted()
    with acting(RESIDENT, now=NOW):
        first = pledge.log_session(Decimal("1.5"), date(2026, 3, 2), "陪同就医")
        second = pledge.log_session(2, date(2026, 3, 2))
    assert (first, second) == (1, 2)
    assert [type(e) for e in pledge.collect_events()] == [Pledge.SessionLogged] * 2
    assert pledge.sessions[0] == {
        "session_no": 1,
        "hours": Decimal("1.50"),
        "on": date(2026, 3, 2),
        "note": "陪同就医",
        "logged_at": NOW,
        "verified": False,
        "verified_by": None,
        "verified_at": None,
    }
    assert pledge.sessions[1]["hours"] == Decimal("2.00")
    assert pledge.verified_hours == Decimal("0.00")


def test_a_session_cannot_be_logged_before_the_pledge_is_accepted() -> None:
    assert_refused(
        make(), InvalidTransitionError, lambda p: p.log_session(1, TODAY), actor=RESIDENT
    )


@pytest.mark.parametrize("state", [fulfilled, lapsed])
def test_a_session_cannot_be_logged_on_a_closed_pledge(state: Callable[[], Pledge]) -> None:
    assert_refused(state(), InvalidTransitionError, lambda p: p.log_session(1, TODAY))


@pytest.mark.parametrize("hours", ["0", "-2", "x", None])
def test_a_session_needs_positive_hours(hours: object) -> None:
    assert_refused(accepted(), InvalidValueError, lambda p: p.log_session(hours, TODAY))


def test_a_session_cannot_be_dated_in_the_future() -> None:
    assert_refused(accepted(), PledgeSessionDateError, lambda p: p.log_session(1, date(2026, 3, 3)))


def test_a_session_may_be_dated_today_in_local_time_while_utc_is_still_yesterday() -> None:
    pledge = accepted()
    with acting(RESIDENT, now=datetime(2026, 3, 2, 17, 0, tzinfo=UTC)):
        assert pledge.log_session(1, date(2026, 3, 3)) == 1


def test_a_session_cannot_be_dated_after_the_due_date() -> None:
    pledge = accepted(due_on=date(2026, 3, 3))
    late = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
    assert_refused(
        pledge, PledgeSessionDateError, lambda p: p.log_session(1, date(2026, 3, 4)), now=late
    )
    with acting(RESIDENT, now=late):
        assert pledge.log_session(1, date(2026, 3, 3)) == 1


def test_a_session_cannot_be_dated_before_the_pledge_was_made() -> None:
    assert_refused(accepted(), PledgeSessionDateError, lambda p: p.log_session(1, date(2026, 3, 1)))


def test_a_session_date_must_be_a_date() -> None:
    assert_refused(accepted(), InvalidValueError, lambda p: p.log_session(1, NOW))


def test_no_date_may_have_more_than_24_logged_hours() -> None:
    pledge = accepted()
    with acting(RESIDENT, now=NOW):
        pledge.log_session(Decimal("20"), TODAY)
        pledge.log_session(Decimal("4"), TODAY)
    assert_refused(pledge, PledgeDailyHoursExceededError, lambda p: p.log_session("0.01", TODAY))


def test_a_single_session_of_more_than_24_hours_is_refused() -> None:
    assert_refused(accepted(), PledgeDailyHoursExceededError, lambda p: p.log_session(25, TODAY))


def test_the_daily_limit_counts_each_date_separately() -> None:
    pledge = accepted()
    later = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    with acting(RESIDENT, now=later):
        pledge.log_session(24, date(2026, 3, 2))
        assert pledge.log_session(24, date(2026, 3, 3)) == 2


# --- verifying sessions and fulfilment ---


def test_a_grid_worker_verifies_a_session() -> None:
    pledge = with_session("1.5")
    later = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with acting(WORKER, now=later):
        pledge.verify_session(1)
    assert [type(e) for e in pledge.collect_events()] == [Pledge.SessionVerified]
    session = pledge.sessions[0]
    assert (session["verified"], session["verified_by"], session["verified_at"]) == (
        True,
        "gw-1",
        later,
    )
    assert pledge.verified_hours == Decimal("1.50")
    assert pledge.status == "accepted"


def test_reaching_the_target_fulfils_the_pledge_in_the_same_verification() -> None:
    pledge = accepted()
    with acting(RESIDENT, now=NOW):
        pledge.log_session(Decimal("3"), TODAY)
        pledge.log_session(Decimal("1.5"), TODAY)
    with acting(WORKER, now=NOW):
        pledge.verify_session(1)
        assert pledge.status == "accepted"
        pledge.verify_session(2)
    assert [type(e) for e in pledge.collect_events()] == [
        Pledge.SessionLogged,
        Pledge.SessionLogged,
        Pledge.SessionVerified,
        Pledge.SessionVerified,
        Pledge.Fulfilled,
    ]
    assert pledge.status == "fulfilled"
    assert pledge.verified_hours == Decimal("4.50")
    assert pledge.fulfilled_at == NOW


def test_unverified_hours_do_not_count_towards_the_target() -> None:
    pledge = accepted()
    with acting(RESIDENT, now=NOW):
        pledge.log_session(Decimal("3.99"), TODAY)
        pledge.log_session(Decimal("5"), TODAY)
    with acting(WORKER, now=NOW):
        pledge.verify_session(1)
    assert pledge.status == "accepted"
    assert pledge.verified_hours == Decimal("3.99")


def test_a_member_cannot_verify_their_own_session() -> None:
    assert_refused(
        with_session(), PledgeSelfVerificationError, lambda p: p.verify_session(1), actor=RESIDENT
    )


def test_a_session_is_verified_only_once() -> None:
    pledge = with_session("1")
    with acting(WORKER, now=NOW):
        pledge.verify_session(1)
    assert_refused(pledge, PledgeSessionAlreadyVerifiedError, lambda p: p.verify_session(1))


@pytest.mark.parametrize("session_no", [0, 2, -1, True])
def test_verifying_a_session_that_does_not_exist_is_refused(session_no: int) -> None:
    assert_refused(
        with_session(), PledgeSessionNotFoundError, lambda p: p.verify_session(session_no)
    )


def test_sessions_of_a_fulfilled_pledge_cannot_be_verified() -> None:
    pledge = accepted()
    with acting(RESIDENT, now=NOW):
        pledge.log_session(4, TODAY)
        pledge.log_session(1, TODAY)
    with acting(WORKER, now=NOW):
        pledge.verify_session(1)
    assert_refused(pledge, InvalidTransitionError, lambda p: p.verify_session(2))


def test_sessions_of_a_withdrawn_pledge_cannot_be_verified() -> None:
    pledge = with_session()
    with acting(RESIDENT, now=NOW):
        pledge.withdraw("工作调动")
    assert_refused(pledge, InvalidTransitionError, lambda p: p.verify_session(1))


# --- lapsing ---


def test_an_open_pledge_lapses_once_its_due_date_has_passed_locally() -> None:
    for pledge in (make(), accepted()):
        pledge.collect_events()
        with acting(SYSTEM, now=END_OF_DUE):
            pledge.lapse()
        assert [type(e) for e in pledge.collect_events()] == [Pledge.Lapsed]
        assert pledge.status == "lapsed"


def test_a_pledge_does_not_lapse_on_its_due_date() -> None:
    last_moment = datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC)  # 23:59:59 locally
    assert_refused(accepted(), PledgeNotYetDueError, lambda p: p.lapse(), now=last_moment)


@pytest.mark.parametrize("state", [fulfilled, lapsed])
def test_only_an_open_pledge_can_lapse(state: Callable[[], Pledge]) -> None:
    assert_refused(state(), InvalidTransitionError, lambda p: p.lapse(), now=END_OF_DUE)


def test_the_watcher_can_rely_on_a_refusal_to_lapse_twice() -> None:
    assert issubclass(PledgeNotYetDueError, RuleViolationError)
    assert issubclass(InvalidTransitionError, RuleViolationError)


# --- withdrawing ---


@pytest.mark.parametrize("state", [make, accepted])
def test_an_open_pledge_can_be_withdrawn_with_a_reason(state: Callable[[], Pledge]) -> None:
    pledge = state()
    pledge.collect_events()
    with acting(RESIDENT, now=NOW):
        pledge.withdraw("  身体原因 ")
    assert [type(e) for e in pledge.collect_events()] == [Pledge.Withdrawn]
    assert pledge.status == "withdrawn"
    assert pledge.withdrawal_reason == "身体原因"


def test_a_withdrawal_needs_a_reason() -> None:
    assert_refused(accepted(), InvalidValueError, lambda p: p.withdraw(" "), actor=RESIDENT)


@pytest.mark.parametrize("state", [fulfilled, lapsed])
def test_a_closed_pledge_cannot_be_withdrawn(state: Callable[[], Pledge]) -> None:
    assert_refused(state(), InvalidTransitionError, lambda p: p.withdraw("x"), actor=RESIDENT)


def test_a_withdrawn_pledge_cannot_be_withdrawn_again() -> None:
    pledge = make()
    with acting(RESIDENT, now=NOW):
        pledge.withdraw("x")
    assert_refused(pledge, InvalidTransitionError, lambda p: p.withdraw("y"), actor=RESIDENT)


# --- reviewing (践诺评议) ---


@pytest.mark.parametrize("state", [fulfilled, lapsed])
def test_a_fulfilled_or_lapsed_pledge_is_reviewed(state: Callable[[], Pledge]) -> None:
    pledge = state()
    with acting(STAFF, now=END_OF_DUE):
        pledge.review_fulfilment(5, "按时践诺")
    assert [type(e) for e in pledge.collect_events()] == [Pledge.Reviewed]
    assert pledge.review == {
        "rating": 5,
        "comment": "按时践诺",
        "reviewed_by": "staff-1",
        "reviewed_at": END_OF_DUE,
    }


@pytest.mark.parametrize("state", [make, accepted])
def test_an_open_pledge_cannot_be_reviewed(state: Callable[[], Pledge]) -> None:
    assert_refused(state(), InvalidTransitionError, lambda p: p.review_fulfilment(4))


def test_a_withdrawn_pledge_cannot_be_reviewed() -> None:
    pledge = make()
    with acting(RESIDENT, now=NOW):
        pledge.withdraw("x")
    assert_refused(pledge, InvalidTransitionError, lambda p: p.review_fulfilment(4))


def test_a_pledge_is_reviewed_only_once() -> None:
    pledge = fulfilled()
    with acting(STAFF, now=NOW):
        pledge.review_fulfilment(4)
    assert_refused(
        pledge, PledgeAlreadyReviewedError, lambda p: p.review_fulfilment(5), actor=WORKER
    )


def test_a_member_cannot_review_their_own_pledge() -> None:
    assert_refused(
        fulfilled(), PledgeSelfReviewError, lambda p: p.review_fulfilment(5), actor=RESIDENT
    )


@pytest.mark.parametrize("rating", [0, 6, -1, True, 4.5, "5"])
def test_a_rating_is_a_whole_number_from_one_to_five(rating: object) -> None:
    assert_refused(fulfilled(), InvalidValueError, lambda p: p.review_fulfilment(rating))


# --- replay ---


def test_replaying_its_events_rebuilds_the_same_pledge() -> None:
    pledge = make()
    with acting(STAFF, now=NOW):
        pledge.accept()
    with acting(RESIDENT, now=NOW):
        pledge.log_session(Decimal("2.5"), TODAY, "清扫楼道")
        pledge.log_session(Decimal("2"), TODAY)
    with acting(WORKER, now=NOW):
        pledge.verify_session(1)
        pledge.verify_session(2)
    with acting(STAFF, now=NOW):
        pledge.review_fulfilment(5)
    rebuilt = None
    for recorded in pledge.collect_events():
        rebuilt = recorded.mutate(rebuilt)
    assert vars(rebuilt) == vars(pledge)
