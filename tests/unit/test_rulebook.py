from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.context import Actor, acting
from domain.errors import RuleDefinitionError, RuleNotInForceError
from domain.rulebook import Rulebook

STAFF = Actor("staff-1", "community_staff")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

VOLUNTEER: dict[str, Any] = {
    "description": "志愿服务每小时",
    "points": 5,
    "kind": "award",
    "caps": {"per_day": 20},
    "requires_approval": False,
    "trigger": "manual",
}


def new_book(**terms: Any) -> Rulebook:
    with acting(STAFF, now=T0):
        book = Rulebook(community="HG-WH-BH")
        book.put_rule("VOL", **{**VOLUNTEER, **terms})
    book.collect_events()
    return book


def test_a_first_put_opens_the_rulebook_and_publishes_version_1() -> None:
    with acting(STAFF, now=T0):
        book = Rulebook(community="HG-WH-BH")
        rule = book.put_rule("VOL", **VOLUNTEER)
    assert [type(e) for e in book.collect_events()] == [Rulebook.Opened, Rulebook.RulePublished]
    assert book.id == Rulebook.id_for("HG-WH-BH")
    assert (rule.code, rule.version, rule.points, rule.effective_from) == ("VOL", 1, 5, T0)
    assert rule.caps == {"per_day": 20, "per_month": None, "per_year": None}


def test_a_changed_rule_is_a_new_version_and_the_old_one_stays_on_record() -> None:
    book = new_book()
    later = T0 + timedelta(days=3)
    with acting(STAFF, now=later):
        rule = book.put_rule("VOL", **{**VOLUNTEER, "points": 8})
    assert [type(e) for e in book.collect_events()] == [Rulebook.RulePublished]
    assert (rule.version, rule.points) == (2, 8)
    assert book.rule("VOL") == rule
    assert book.rule_as_of("VOL", later - timedelta(seconds=1)).points == 5
    assert book.rule_as_of("VOL", later).version == 2
    assert book.rule_as_of("VOL", T0 - timedelta(seconds=1)) is None


def test_a_put_identical_to_the_version_in_force_records_nothing() -> None:
    book = new_book()
    with acting(STAFF, now=T0 + timedelta(hours=1)):
        rule = book.put_rule("VOL", **{**VOLUNTEER, "caps": {"per_day": 20, "per_year": None}})
    assert book.collect_events() == []
    assert rule.version == 1


@pytest.mark.parametrize(
    "terms",
    [
        {"points": 0},
        {"points": -3},
        {"points": 2.5},
        {"points": True},
        {"kind": "bonus"},
        {"trigger": "sunrise"},
        {"caps": {"per_week": 3}},
        {"caps": {"per_day": 0}},
        {"caps": {"per_month": 1.5}},
        {"description": "  "},
        {"requires_approval": "yes"},
        {"kind": "deduction", "trigger": "valid_report"},
        {"kind": "deduction", "requires_approval": True},
    ],
)
def test_a_rule_out_of_range_is_refused_and_records_nothing(terms: dict[str, Any]) -> None:
    book = new_book()
    with acting(STAFF, now=T0), pytest.raises(RuleDefinitionError):
        book.put_rule("NEW", **{**VOLUNTEER, **terms})
    assert book.collect_events() == []
    assert book.rule("NEW") is None


def test_a_blank_rule_code_is_refused() -> None:
    book = new_book()
    with acting(STAFF, now=T0), pytest.raises(RuleDefinitionError):
        book.put_rule(" ", **VOLUNTEER)


def test_a_retired_rule_is_no_longer_in_force_but_its_past_is_kept() -> None:
    book = new_book()
    retired_at = T0 + timedelta(days=1)
    with acting(STAFF, now=retired_at):
        book.retire_rule("VOL")
    assert [type(e) for e in book.collect_events()] == [Rulebook.RuleRetired]
    assert book.rule("VOL") is None
    assert book.rules_in_force() == []
    assert book.rule_as_of("VOL", retired_at - timedelta(seconds=1)).version == 1
    assert [v["version"] for v in book.versions("VOL")] == [1, 2]


def test_only_a_rule_in_force_can_be_retired() -> None:
    book = new_book()
    with acting(STAFF, now=T0):
        book.retire_rule("VOL")
        book.collect_events()
        with pytest.raises(RuleNotInForceError):
            book.retire_rule("VOL")
        with pytest.raises(RuleNotInForceError):
            book.retire_rule("NOPE")
    assert book.collect_events() == []


def test_putting_a_retired_rule_again_publishes_a_new_version() -> None:
    book = new_book()
    with acting(STAFF, now=T0 + timedelta(days=1)):
        book.retire_rule("VOL")
    with acting(STAFF, now=T0 + timedelta(days=2)):
        rule = book.put_rule("VOL", **VOLUNTEER)
    assert rule.version == 3
    assert book.rule("VOL") == rule


def test_the_rules_as_of_a_past_moment_are_those_then_in_force() -> None:
    book = new_book()
    with acting(STAFF, now=T0 + timedelta(days=1)):
        book.put_rule("REPORT", **{**VOLUNTEER, "trigger": "valid_report"})
    with acting(STAFF, now=T0 + timedelta(days=2)):
        book.retire_rule("VOL")
    assert [r.code for r in book.rules_as_of(T0)] == ["VOL"]
    assert [r.code for r in book.rules_as_of(T0 + timedelta(days=1))] == ["REPORT", "VOL"]
    assert [r.code for r in book.rules_in_force()] == ["REPORT"]
