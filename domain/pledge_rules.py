"""The values a pledge accepts: its kinds and statuses, hours, ratings and session dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from domain.errors import InvalidValueError, PledgeSessionDateError

CENT = Decimal("0.01")
MAX_TARGET_HOURS = Decimal("10000")
HOURS_PER_DAY = Decimal("24")


class PledgeKind(StrEnum):
    SERVICE_ITEM = "service_item"
    PIONEER_POST = "pioneer_post"
    COMMITMENT = "commitment"


class PledgeStatus(StrEnum):
    PLEDGED = "pledged"
    ACCEPTED = "accepted"
    FULFILLED = "fulfilled"
    LAPSED = "lapsed"
    WITHDRAWN = "withdrawn"


OPEN = (PledgeStatus.PLEDGED, PledgeStatus.ACCEPTED)
REVIEWABLE = (PledgeStatus.FULFILLED, PledgeStatus.LAPSED)


def pledge_kind(kind: str) -> PledgeKind:
    try:
        return PledgeKind(kind)
    except ValueError:
        raise InvalidValueError(
            f"kind must be one of {', '.join(k.value for k in PledgeKind)}, not {kind!r}",
            rule="pledge.kind",
        ) from None


def hours_value(value: Decimal | int | str, *, field: str) -> Decimal:
    """A positive number of hours, quantized to 0.01, or InvalidValueError."""
    hours: Decimal | None = None
    if not isinstance(value, bool):
        try:
            hours = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
        except InvalidOperation:
            hours = None
    if hours is None or not hours.is_finite() or hours <= 0:
        raise InvalidValueError(
            f"{field} must be a positive number of hours, not {value!r}", rule=f"pledge.{field}"
        )
    return hours


def target_hours_value(value: Decimal | int | str) -> Decimal:
    target = hours_value(value, field="target_hours")
    if target > MAX_TARGET_HOURS:
        raise InvalidValueError(
            f"target_hours may be at most {MAX_TARGET_HOURS}", rule="pledge.target_hours"
        )
    return target


def due_date_value(due_on: date, today: date) -> date:
    if not is_date(due_on):
        raise InvalidValueError("due_on must be a date", rule="pledge.due_on")
    if due_on < today:
        raise InvalidValueError(f"due_on {due_on} is before today ({today})", rule="pledge.due_on")
    return due_on


def check_session_date(on: date, *, today: date, pledged_on: date, due_on: date) -> None:
    """Refuse a session dated in the future, after the due date or before the pledge."""
    if not is_date(on):
        raise InvalidValueError("a session's date must be a date", rule="pledge.session_date")
    if on > today:
        raise PledgeSessionDateError(f"a session cannot be logged for {on}, after today")
    if on > due_on:
        raise PledgeSessionDateError(f"{on} is after the pledge's due date {due_on}")
    if on < pledged_on:
        raise PledgeSessionDateError(f"{on} is before the pledge was made ({pledged_on})")


def rating_value(rating: int) -> int:
    if not is_count(rating) or not 1 <= rating <= 5:
        raise InvalidValueError(
            f"rating must be a whole number from 1 to 5, not {rating!r}", rule="pledge.rating"
        )
    return rating


def is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_date(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)
