"""Pledges (承诺/践诺) through Governance, on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.application import Governance
from domain.commands.base import Meta
from domain.context import SYSTEM, Actor
from domain.errors import (
    InvalidTransitionError,
    InvalidValueError,
    NotFoundError,
    PledgeAlreadyReviewedError,
    PledgeDailyHoursExceededError,
    PledgeNotYetDueError,
    PledgeSelfReviewError,
    PledgeSelfVerificationError,
    PledgeSessionNotFoundError,
    RuleViolationError,
    WrongJurisdictionKindError,
)
from domain.pledge import Pledge
from tests.fakes import FakeClock
from tests.writeside import assert_records_nothing, max_position, transactions_after

STAFF = Meta(actor=Actor("staff-1", "community_staff"))
WORKER = Meta(actor=Actor("gw-1", "grid_worker"))
WATCHER = Meta(actor=SYSTEM)
DUE = date(2026, 3, 31)
AFTER_DUE = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # midnight 1 April in Shanghai


@pytest.fixture
def member(governance: Governance, admin: Meta, tree: dict[str, str]) -> UUID:
    result = governance.register_member(
        admin,
        name="李建国",
        phone="13800000002",
        kind="in_service",
        party_member=True,
        home_grid=tree["grid"],
    )
    return result.id


@pytest.fixture
def as_member(member: UUID) -> Meta:
    return Meta(actor=Actor(str(member), "resident"))


def make(gov: Governance, as_member: Meta, member: UUID, community: str, **fields: Any) -> UUID:
    terms: dict[str, Any] = {
        "kind": "service_item",
        "title": "每周陪伴独居老人",
        "target_hours": Decimal("4"),
        "due_on": DUE,
        **fields,
    }
    return gov.make_pledge(as_member, member_id=member, community=community, **terms).id


@pytest.fixture
def pledge_id(governance: Governance, as_member: Meta, member: UUID, tree: dict[str, str]) -> UUID:
    return make(governance, as_member, member, tree["community"])


@pytest.fixture
def accepted(governance: Governance, pledge_id: UUID) -> UUID:
    governance.accept_pledge(STAFF, pledge_id)
    return pledge_id


def test_a_pledge_is_made_accepted_served_and_verified_and_reloads_alike(
    governance: Governance,
    as_member: Meta,
    member: UUID,
    tree: dict[str, str],
    clock: FakeClock,
) -> None:
    made = governance.make_pledge(
        as_member,
        member_id=member,
        community=tree["community"],
        kind="pioneer_post",
        title="楼道先锋岗",
        target_hours=Decimal("6"),
        due_on=DUE,
    )
    assert (made.version, made.position) == (1, max_position(governance))
    governance.accept_pledge(STAFF, made.id)
    clock.advance(hours=1)
    logged = governance.log_session(
        as_member, made.id, hours=Decimal("2.5"), on=date(2026, 3, 2), note="清理楼道杂物"
    )
    assert logged.extra == {"session_no": 1}
    verified = governance.verify_session(WORKER, made.id, 1)
    assert verified.extra == {"status": "accepted"}

    pledge = governance.pledge(made.id)
    assert pledge.version == verified.version == 4
    assert (pledge.member_id, pledge.community, pledge.kind) == (
        member,
        tree["community"],
        "pioneer_post",
    )
    assert (pledge.title, pledge.status, pledge.due_on) == ("楼道先锋岗", "accepted", DUE)
    assert (pledge.target_hours, pledge.verified_hours) == (Decimal("6.00"), Decimal("2.50"))
    assert pledge.sessions == [
        {
            "session_no": 1,
            "hours": Decimal("2.50"),
            "on": date(2026, 3, 2),
            "note": "清理楼道杂物",
            "logged_at": clock.now,
            "verified": True,
            "verified_by": "gw-1",
            "verified_at": clock.now,
        }
    ]
    assert pledge.pledged_at == pledge.accepted_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert pledge.review is None
    stored = list(governance.events.get(made.id))
    assert [type(e) for e in stored] == [
        Pledge.Pledged,
        Pledge.Accepted,
        Pledge.SessionLogged,
        Pledge.SessionVerified,
    ]
    assert [e.actor_id for e in stored] == [str(member), "staff-1", str(member), "gw-1"]


def test_a_pledge_as_it_was_at_each_version(
    governance: Governance, as_member: Meta, accepted: UUID
) -> None:
    governance.log_session(as_member, accepted, hours=Decimal("1"), on=date(2026, 3, 2))
    governance.verify_session(WORKER, accepted, 1)

    at = [governance.repository.get(accepted, version=n) for n in (1, 2, 3, 4)]
    assert [p.status for p in at] == ["pledged", "accepted", "accepted", "accepted"]
    assert [len(p.sessions) for p in at] == [0, 0, 1, 1]
    assert [p.verified_hours for p in at] == [Decimal(0), Decimal(0), Decimal(0), Decimal(1)]
    assert at[2].sessions[0]["verified"] is False


def test_verifying_the_last_hours_fulfils_the_pledge_in_the_same_transaction(
    governance: Governance,
    clock: FakeClock,
    database_url: str,
    as_member: Meta,
    accepted: UUID,
) -> None:
    governance.log_session(as_member, accepted, hours=Decimal("3"), on=date(2026, 3, 2))
    governance.log_session(as_member, accepted, hours=Decimal("1"), on=date(2026, 3, 2))
    governance.verify_session(WORKER, accepted, 1)
    before = max_position(governance)

    result = governance.verify_session(WORKER, accepted, 2)

    assert result.extra == {"status": "fulfilled"}
    recorded = governance.recorder.select_notifications(start=before + 1, limit=10)
    assert [n.originator_id for n in recorded] == [accepted, accepted]
    assert [n.topic.rsplit(".", 1)[-1] for n in recorded] == ["SessionVerified", "Fulfilled"]
    assert result.position == recorded[-1].id == max_position(governance)
    assert len(transactions_after(governance, database_url, before)) == 1
    pledge = governance.pledge(accepted)
    assert (pledge.status, pledge.verified_hours) == ("fulfilled", Decimal("4.00"))
    assert pledge.fulfilled_at == clock.now


def test_fulfilment_earns_the_pledge_fulfilled_points_once_with_the_verification(
    governance: Governance,
    database_url: str,
    as_member: Meta,
    member: UUID,
    tree: dict[str, str],
    accepted: UUID,
) -> None:
    community = tree["community"]
    governance.put_rule(
        STAFF,
        community,
        "PLEDGE-KEPT",
        description="党员践诺",
        points=20,
        kind="award",
        caps=None,
        requires_approval=False,
        trigger="pledge_fulfilled",
    )
    governance.log_session(as_member, accepted, hours=Decimal("4"), on=date(2026, 3, 2))
    before = max_position(governance)

    result = governance.verify_session(WORKER, accepted, 1)

    account = governance.points_account(member, community)
    assert account.balance == 20
    recorded = governance.recorder.select_notifications(start=before + 1, limit=20)
    originators = [n.originator_id for n in recorded]
    assert originators.count(accepted) == 2
    assert account.id in originators
    assert result.position == recorded[-1].id == max_position(governance)
    assert len(transactions_after(governance, database_url, before)) == 1
    assert_records_nothing(
        governance, InvalidTransitionError, lambda: governance.verify_session(WORKER, accepted, 1)
    )
    assert governance.points_account(member, community).balance == 20


def test_a_pledge_cannot_be_made_for_an_unknown_member_or_outside_a_community(
    governance: Governance, as_member: Meta, member: UUID, tree: dict[str, str]
) -> None:
    assert_records_nothing(
        governance, NotFoundError, lambda: make(governance, as_member, uuid4(), tree["community"])
    )
    for not_a_community in (tree["grid"], tree["street"]):
        assert_records_nothing(
            governance,
            WrongJurisdictionKindError,
            lambda code=not_a_community: make(governance, as_member, member, code),
        )
    assert_records_nothing(
        governance, NotFoundError, lambda: make(governance, as_member, member, "NOWHERE")
    )


def test_a_pledge_with_bad_values_records_nothing(
    governance: Governance, as_member: Meta, member: UUID, tree: dict[str, str]
) -> None:
    community = tree["community"]
    for bad in (
        {"kind": "donation"},
        {"title": " "},
        {"target_hours": Decimal("0")},
        {"target_hours": Decimal("10000.01")},
        {"due_on": date(2026, 3, 1)},
    ):
        assert_records_nothing(
            governance,
            InvalidValueError,
            lambda bad=bad: make(governance, as_member, member, community, **bad),
        )


def test_refused_pledge_commands_record_nothing(
    governance: Governance, as_member: Meta, pledge_id: UUID
) -> None:
    on = date(2026, 3, 2)
    assert_records_nothing(
        governance,
        InvalidTransitionError,
        lambda: governance.log_session(as_member, pledge_id, hours=Decimal(1), on=on),
    )
    governance.accept_pledge(STAFF, pledge_id)
    assert_records_nothing(
        governance, InvalidTransitionError, lambda: governance.accept_pledge(STAFF, pledge_id)
    )
    governance.log_session(as_member, pledge_id, hours=Decimal(20), on=on)
    assert_records_nothing(
        governance,
        PledgeDailyHoursExceededError,
        lambda: governance.log_session(as_member, pledge_id, hours=Decimal("4.01"), on=on),
    )
    assert_records_nothing(
        governance,
        PledgeSelfVerificationError,
        lambda: governance.verify_session(as_member, pledge_id, 1),
    )
    assert_records_nothing(
        governance,
        PledgeSessionNotFoundError,
        lambda: governance.verify_session(WORKER, pledge_id, 2),
    )
    assert_records_nothing(
        governance,
        InvalidTransitionError,
        lambda: governance.review_pledge(STAFF, pledge_id, rating=5),
    )
    assert_records_nothing(
        governance, NotFoundError, lambda: governance.accept_pledge(STAFF, uuid4())
    )
    assert_records_nothing(
        governance,
        InvalidValueError,
        lambda: governance.withdraw_pledge(as_member, pledge_id, reason=" "),
    )


def test_the_watcher_lapses_an_open_pledge_once_its_due_date_has_passed(
    governance: Governance, clock: FakeClock, accepted: UUID
) -> None:
    assert_records_nothing(
        governance, PledgeNotYetDueError, lambda: governance.lapse_pledge(WATCHER, accepted)
    )
    clock.set(AFTER_DUE)
    result = governance.lapse_pledge(WATCHER, accepted)
    assert governance.pledge(accepted).status == "lapsed"
    assert result.version == 3
    stored = list(governance.events.get(accepted))[-1]
    assert (type(stored), stored.actor_id) == (Pledge.Lapsed, "system")
    assert_records_nothing(
        governance, RuleViolationError, lambda: governance.lapse_pledge(WATCHER, accepted)
    )


def test_a_lapsed_pledge_is_reviewed_once_by_someone_other_than_its_member(
    governance: Governance, clock: FakeClock, as_member: Meta, accepted: UUID
) -> None:
    clock.set(AFTER_DUE)
    governance.lapse_pledge(WATCHER, accepted)
    assert_records_nothing(
        governance,
        PledgeSelfReviewError,
        lambda: governance.review_pledge(as_member, accepted, rating=5),
    )
    governance.review_pledge(STAFF, accepted, rating=2, comment="未按期践诺")
    assert governance.pledge(accepted).review == {
        "rating": 2,
        "comment": "未按期践诺",
        "reviewed_by": "staff-1",
        "reviewed_at": AFTER_DUE,
    }
    assert_records_nothing(
        governance,
        PledgeAlreadyReviewedError,
        lambda: governance.review_pledge(WORKER, accepted, rating=4),
    )


def test_a_withdrawn_pledge_takes_no_more_sessions(
    governance: Governance, as_member: Meta, accepted: UUID
) -> None:
    governance.withdraw_pledge(as_member, accepted, reason="工作调动")
    pledge = governance.pledge(accepted)
    assert (pledge.status, pledge.withdrawal_reason) == ("withdrawn", "工作调动")
    assert_records_nothing(
        governance,
        InvalidTransitionError,
        lambda: governance.log_session(as_member, accepted, hours=Decimal(1), on=date(2026, 3, 2)),
    )


def test_a_repeated_session_with_the_same_idempotency_key_answers_the_same_number(
    governance: Governance, as_member: Meta, accepted: UUID
) -> None:
    keyed = replace(as_member, idempotency_key="session-1")
    first = governance.log_session(keyed, accepted, hours=Decimal("1.5"), on=date(2026, 3, 2))
    before = max_position(governance)
    again = governance.log_session(keyed, accepted, hours=Decimal("1.5"), on=date(2026, 3, 2))
    assert again == first
    assert again.extra == {"session_no": 1}
    assert max_position(governance) == before
    assert len(governance.pledge(accepted).sessions) == 1
