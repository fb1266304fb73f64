"""AssessmentPolicy: how a jurisdiction's scorecards are weighed (考核口径), every version kept.

One policy per jurisdiction (normally the district's). A scorecard of any subtree uses
the policy of the nearest ancestor-or-self that has one, as it stood at the scorecard's
`as_of`; where none has, the built-in default (version 0, `DEFAULT_TERMS`).

Terms:
- `weights` of the "three rates" (三率: response-in-time 响应率, handling 办结率,
  satisfaction 满意率), each in [0, 1], summing to 1;
- `basically_satisfied_weight` (k): a "basically satisfied" rating counts k of a
  "satisfied" one in the satisfaction rate;
- `min_cases`: a rate whose denominator is below it is not shown (null, with a reason);
- `stars`: five rules, star n is earned when rules 1..n are all met (星级滚动考核);
  each names a worker figure, and the threshold it must reach.

Every change is a new version, effective from when it was recorded; a put identical to
the version in force records nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeGuard
from uuid import UUID

from eventsourcing.domain import event

from domain.base import GovernedAggregate, stable_id
from domain.context import current
from domain.errors import AssessmentPolicyError

THREE_RATES = ("response", "handling", "satisfaction")
"""The weights' keys: response-in-time rate, handling rate, satisfaction rate."""

STAR_FIGURES: dict[str, str] = {
    "tickets_handled": "count",
    "response_in_time_rate": "rate",
    "on_time_resolution_rate": "rate",
    "handling_rate": "rate",
    "satisfaction_rate": "rate",
    "three_rates_score": "rate",
}
"""The worker figures a star rule may name, and whether each is a count or a rate."""

STAR_COUNT = 5

DEFAULT_TERMS: dict[str, Any] = {
    "weights": {"response": 0.2, "handling": 0.4, "satisfaction": 0.4},
    "basically_satisfied_weight": 0.8,
    "min_cases": 5,
    "stars": [
        {"figure": "tickets_handled", "threshold": 5},
        {"figure": "response_in_time_rate", "threshold": 0.9},
        {"figure": "on_time_resolution_rate", "threshold": 0.9},
        {"figure": "satisfaction_rate", "threshold": 0.9},
        {"figure": "three_rates_score", "threshold": 0.95},
    ],
}
"""Version 0: what a scorecard uses where no jurisdiction above it has a policy."""


class AssessmentPolicy(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Opened: ClassVar[type[Any]]
        Published: ClassVar[type[Any]]

    @staticmethod
    def create_id(jurisdiction: str) -> UUID:
        return stable_id("assessment_policy", jurisdiction)

    id_for = create_id

    @event("Opened")
    def __init__(self, jurisdiction: str) -> None:
        self.jurisdiction = jurisdiction
        self.versions: list[dict[str, Any]] = []

    def put(self, terms: dict[str, Any]) -> int:
        """Publish `terms` (checked by `policy_terms`) as a new version, unless the version
        in force says the same; answer the version in force afterwards."""
        checked = policy_terms(terms)
        if self.versions and self.versions[-1]["terms"] == checked:
            return int(self.versions[-1]["version"])
        self._published(
            jurisdiction=self.jurisdiction,
            version=len(self.versions) + 1,
            effective_from=current().now,
            terms=checked,
        )
        return len(self.versions)

    @event("Published")
    def _published(
        self, jurisdiction: str, version: int, effective_from: datetime, terms: dict[str, Any]
    ) -> None:
        self.versions.append({"version": version, "effective_from": effective_from, "terms": terms})


def policy_terms(terms: dict[str, Any]) -> dict[str, Any]:
    """The validated, normalised terms; AssessmentPolicyError names what is wrong."""
    if not isinstance(terms, dict):
        raise AssessmentPolicyError("the policy's terms must be an object")
    unknown = sorted(set(terms) - set(DEFAULT_TERMS))
    if unknown:
        raise AssessmentPolicyError(f"unknown terms {unknown}")
    missing = sorted(set(DEFAULT_TERMS) - set(terms))
    if missing:
        raise AssessmentPolicyError(f"missing terms {missing}")
    return {
        "weights": _weights(terms["weights"]),
        "basically_satisfied_weight": _share(
            terms["basically_satisfied_weight"], "basically_satisfied_weight"
        ),
        "min_cases": _min_cases(terms["min_cases"]),
        "stars": _stars(terms["stars"]),
    }


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _share(value: object, field: str) -> float:
    if not _number(value) or not 0 <= float(value) <= 1:
        raise AssessmentPolicyError(f"{field} must be a number from 0 to 1, not {value!r}")
    return round(float(value), 4)


def _weights(weights: object) -> dict[str, float]:
    if not isinstance(weights, dict) or set(weights) != set(THREE_RATES):
        raise AssessmentPolicyError(f"weights must name exactly {', '.join(THREE_RATES)}")
    checked = {key: _share(weights[key], f"weights.{key}") for key in THREE_RATES}
    if abs(sum(checked.values()) - 1) > 1e-6:
        raise AssessmentPolicyError(f"the weights must sum to 1, not {sum(checked.values()):g}")
    return checked


def _min_cases(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1_000_000:
        raise AssessmentPolicyError(f"min_cases must be a whole number from 1, not {value!r}")
    return value


def _stars(stars: object) -> list[dict[str, Any]]:
    if not isinstance(stars, list) or len(stars) != STAR_COUNT:
        raise AssessmentPolicyError(f"stars must list exactly {STAR_COUNT} rules")
    checked = []
    for n, rule in enumerate(stars, start=1):
        if not isinstance(rule, dict) or set(rule) != {"figure", "threshold"}:
            raise AssessmentPolicyError(f"star {n} must name a figure and a threshold")
        figure, threshold = rule["figure"], rule["threshold"]
        kind = STAR_FIGURES.get(figure) if isinstance(figure, str) else None
        if kind is None:
            allowed = ", ".join(STAR_FIGURES)
            raise AssessmentPolicyError(f"star {n}: figure must be one of {allowed}")
        if kind == "rate":
            checked.append({"figure": figure, "threshold": _share(threshold, f"star {n}")})
        else:
            whole = int(threshold) if _number(threshold) and threshold == int(threshold) else None
            checked.append({"figure": figure, "threshold": _min_cases(whole or threshold)})
    return checked
