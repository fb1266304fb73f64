"""The command pipeline: idempotency keys, concurrency retries, one transaction."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from domain.application import Governance
from domain.commands.base import Meta
from domain.errors import IdempotencyKeyReusedError, JurisdictionCodeTakenError
from tests.writeside import max_position


def test_a_repeated_idempotency_key_returns_the_first_answer_and_records_nothing(
    governance: Governance, admin: Meta
) -> None:
    keyed = replace(admin, idempotency_key="k-1")
    first = governance.define_jurisdiction(
        keyed, code="HG", kind="district", name="海港区", parent=None
    )
    before = max_position(governance)
    again = governance.define_jurisdiction(
        keyed, code="HG", kind="district", name="海港区", parent=None
    )
    assert again == first
    assert max_position(governance) == before


def test_the_same_key_with_another_body_is_refused(governance: Governance, admin: Meta) -> None:
    keyed = replace(admin, idempotency_key="k-1")
    governance.define_jurisdiction(keyed, code="HG", kind="district", name="海港区", parent=None)
    before = max_position(governance)
    with pytest.raises(IdempotencyKeyReusedError):
        governance.define_jurisdiction(keyed, code="HX", kind="district", name="x", parent=None)
    assert max_position(governance) == before


def test_keys_are_scoped_to_the_actor(governance: Governance, admin: Meta) -> None:
    governance.define_jurisdiction(
        replace(admin, idempotency_key="k"), code="A", kind="district", name="a", parent=None
    )
    other = Meta(actor=replace(admin.actor, id="admin-2"), idempotency_key="k")
    result = governance.define_jurisdiction(other, code="B", kind="district", name="b", parent=None)
    assert governance.jurisdiction("B").id == result.id


def test_concurrent_definitions_of_one_code_record_it_once(
    governance: Governance, admin: Meta
) -> None:
    outcomes: list[object] = []

    def define() -> None:
        try:
            outcomes.append(
                governance.define_jurisdiction(
                    admin, code="HG", kind="district", name="x", parent=None
                )
            )
        except JurisdictionCodeTakenError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=define) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 6
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    assert len(list(governance.events.get(governance.jurisdiction("HG").id))) == 1


def test_concurrent_retries_of_one_key_answer_alike(governance: Governance, admin: Meta) -> None:
    keyed = replace(admin, idempotency_key="same")
    answers: list[object] = []

    def define() -> None:
        answers.append(
            governance.define_jurisdiction(keyed, code="HG", kind="district", name="x", parent=None)
        )

    threads = [threading.Thread(target=define) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 6
    assert len({(a.id, a.version, a.position) for a in answers}) == 1


def test_a_field_time_without_a_time_zone_or_in_the_future_is_refused(
    governance: Governance, admin: Meta, clock
) -> None:
    from datetime import datetime, timedelta

    from domain.errors import InvalidValueError

    naive = replace(admin, occurred_at=datetime(2026, 3, 1, 8, 0))
    future = replace(admin, occurred_at=clock.now + timedelta(hours=1))
    for meta in (naive, future):
        with pytest.raises(InvalidValueError):
            governance.define_jurisdiction(meta, code="HG", kind="district", name="x", parent=None)
    assert max_position(governance) == 0


def test_a_field_time_is_recorded_in_utc(governance: Governance, admin: Meta, clock) -> None:
    from datetime import timedelta, timezone

    shanghai = clock.now.astimezone(timezone(timedelta(hours=8))) - timedelta(hours=2)
    result = governance.define_jurisdiction(
        replace(admin, occurred_at=shanghai), code="HG", kind="district", name="x", parent=None
    )
    (event,) = governance.events.get(result.id)
    assert event.occurred_at == shanghai
    assert event.occurred_at.utcoffset() == timedelta(0)


def test_the_same_decimal_written_another_way_is_the_same_body() -> None:
    from decimal import Decimal

    from domain.commands.base import _fingerprint

    assert _fingerprint("log", {"hours": Decimal("1.5")}) == _fingerprint(
        "log", {"hours": Decimal("1.50")}
    )
