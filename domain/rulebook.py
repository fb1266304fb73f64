"""Rulebook: a community's civility-points rules (积分规则), every version kept.

Each rule code has a history of versions (1, 2, ...), each effective from the time it
was recorded. A put identical to the version in force records nothing; retiring a rule
records a version that is not in force. `rule_as_of(code, when)` answers which version
was in force at a past moment, so every award can name the version it applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.base import GovernedAggregate, stable_id
from domain.context import current
from domain.errors import RuleDefinitionError, RuleNotInForceError


class RuleKind(StrEnum):
    AWARD = "award"
    DEDUCTION = "deduction"


class Trigger(StrEnum):
    MANUAL = "manual"
    ACTIVITY_ATTENDANCE = "activity_attendance"
    VALID_REPORT = "valid_report"
    PLEDGE_FULFILLED = "pledge_fulfilled"


CAP_PERIODS = ("per_day", "per_month", "per_year")


@dataclass(frozen=True)
class Rule:
    """One version of a rule, as it was in force from `effective_from`."""

    code: str
    version: int
    description: str
    points: int
    kind: str
    caps: dict[str, int | None]
    requires_approval: bool
    trigger: str
    effective_from: datetime

    def terms(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "points": self.points,
            "kind": self.kind,
            "caps": self.caps,
            "requires_approval": self.requires_approval,
            "trigger": self.trigger,
        }


class Rulebook(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Opened: ClassVar[type[Any]]
        RulePublished: ClassVar[type[Any]]
        RuleRetired: ClassVar[type[Any]]

    @staticmethod
    def create_id(community: str) -> UUID:
        return stable_id("rulebook", community)

    id_for = create_id

    @event("Opened")
    def __init__(self, community: str) -> None:
        self.community = community
        self.rules: dict[str, list[dict[str, Any]]] = {}

    def put_rule(
        self,
        rule_code: str,
        *,
        description: str,
        points: int,
        kind: str,
        caps: dict[str, int | None] | None,
        requires_approval: bool,
        trigger: str,
    ) -> Rule:
        """Publish a new version of `rule_code`, unless the version in force says the same."""
        terms = rule_terms(
            rule_code,
            description=description,
            points=points,
            kind=kind,
            caps=caps,
            requires_approval=requires_approval,
            trigger=trigger,
        )
        in_force = self.rule(rule_code)
        if in_force is not None and in_force.terms() == terms:
            return in_force
        self._rule_published(
            rule_code=rule_code,
            version=self._next_version(rule_code),
            effective_from=current().now,
            **terms,
        )
        rule = self.rule(rule_code)
        assert rule is not None
        return rule

    def retire_rule(self, rule_code: str) -> None:
        """Take `rule_code` out of force from now on; its versions stay on record."""
        if self.rule(rule_code) is None:
            raise RuleNotInForceError(self.community, rule_code)
        self._rule_retired(
            rule_code=rule_code,
            version=self._next_version(rule_code),
            effective_from=current().now,
        )

    def rule(self, rule_code: str) -> Rule | None:
        """The version of `rule_code` in force now (None if unknown or retired)."""
        versions = self.rules.get(rule_code)
        return _as_rule(rule_code, versions[-1]) if versions else None

    def rule_as_of(self, rule_code: str, when: datetime) -> Rule | None:
        """The version of `rule_code` that was in force at `when`."""
        found = None
        for version in self.rules.get(rule_code, []):
            if version["effective_from"] > when:
                break
            found = version
        return None if found is None else _as_rule(rule_code, found)

    def rules_in_force(self) -> list[Rule]:
        return [r for code in sorted(self.rules) if (r := self.rule(code)) is not None]

    def rules_as_of(self, when: datetime) -> list[Rule]:
        return [r for code in sorted(self.rules) if (r := self.rule_as_of(code, when)) is not None]

    def versions(self, rule_code: str) -> list[dict[str, Any]]:
        """Every recorded version of `rule_code`, oldest first (retirements included)."""
        return [dict(v) for v in self.rules.get(rule_code, [])]

    def _next_version(self, rule_code: str) -> int:
        return len(self.rules.get(rule_code, [])) + 1

    @event("RulePublished")
    def _rule_published(
        self,
        rule_code: str,
        version: int,
        effective_from: datetime,
        description: str,
        points: int,
        kind: str,
        caps: dict[str, int | None],
        requires_approval: bool,
        trigger: str,
    ) -> None:
        self.rules.setdefault(rule_code, []).append(
            {
                "version": version,
                "effective_from": effective_from,
                "in_force": True,
                "description": description,
                "points": points,
                "kind": kind,
                "caps": dict(caps),
                "requires_approval": requires_approval,
                "trigger": trigger,
            }
        )

    @event("RuleRetired")
    def _rule_retired(self, rule_code: str, version: int, effective_from: datetime) -> None:
        self.rules[rule_code].append(
            {"version": version, "effective_from": effective_from, "in_force": False}
        )


def rule_terms(
    rule_code: str,
    *,
    description: str,
    points: int,
    kind: str,
    caps: dict[str, int | None] | None,
    requires_approval: bool,
    trigger: str,
) -> dict[str, Any]:
    """The validated terms of a rule; RuleDefinitionError names what is wrong."""
    if not isinstance(rule_code, str) or not rule_code.strip():
        raise RuleDefinitionError("rule_code must not be blank")
    if not isinstance(description, str) or not description.strip():
        raise RuleDefinitionError("description must not be blank")
    if not _positive_int(points):
        raise RuleDefinitionError(f"points must be a whole number above zero, not {points!r}")
    rule_kind = _choice(RuleKind, kind, "kind")
    rule_trigger = _choice(Trigger, trigger, "trigger")
    if not isinstance(requires_approval, bool):
        raise RuleDefinitionError("requires_approval must be true or false")
    if rule_kind == RuleKind.DEDUCTION and rule_trigger != Trigger.MANUAL:
        raise RuleDefinitionError("a deduction rule is applied by hand: its trigger is manual")
    if rule_kind == RuleKind.DEDUCTION and requires_approval:
        raise RuleDefinitionError("a deduction is posted at once; it cannot require approval")
    return {
        "description": description,
        "points": points,
        "kind": rule_kind.value,
        "caps": _caps(caps or {}),
        "requires_approval": requires_approval,
        "trigger": rule_trigger.value,
    }


def _caps(caps: dict[str, int | None]) -> dict[str, int | None]:
    unknown = sorted(set(caps) - set(CAP_PERIODS))
    if unknown:
        raise RuleDefinitionError(f"caps may name {', '.join(CAP_PERIODS)}, not {unknown}")
    for period, cap in caps.items():
        if cap is not None and not _positive_int(cap):
            raise RuleDefinitionError(f"caps.{period} must be a whole number above zero or null")
    return {period: caps.get(period) for period in CAP_PERIODS}


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _choice(enum: type[StrEnum], value: str, field: str) -> StrEnum:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise RuleDefinitionError(f"{field} must be one of {allowed}, not {value!r}") from None


def _as_rule(rule_code: str, version: dict[str, Any]) -> Rule | None:
    if not version["in_force"]:
        return None
    return Rule(
        code=rule_code,
        version=version["version"],
        description=version["description"],
        points=version["points"],
        kind=version["kind"],
        caps=dict(version["caps"]),
        requires_approval=version["requires_approval"],
        trigger=version["trigger"],
        effective_from=version["effective_from"],
    )
