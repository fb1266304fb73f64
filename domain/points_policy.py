"""The arithmetic behind a points account: cap buckets and lots of earned points.

Cap buckets count, per rule code, the points of entries recorded in the current
local (Asia/Shanghai) day, month and year: `{"day": "2026-03-02", "day_points": 5,
"month": "2026-03", "month_points": 20, "year": "2026", "year_points": 80}`. An entry
recorded in a new period starts that period's count afresh; an entry taken back (a
rejected award, a reversal) frees its points only in the periods still current.

Lots hold the unconsumed earned points per local date (`{"2026-03-02": 15}`); their
sum always equals the balance when it is positive, and is zero otherwise. They are
kept in date order, so debits consume the oldest lots first without sorting; a debit
beyond the lots (a deduction into the red) leaves a debt that later credits pay off
before they form a lot.
"""

from __future__ import annotations

from datetime import date
from typing import Any

PERIOD_OF_CAP = {"per_day": "day", "per_month": "month", "per_year": "year"}
_PERIODS = (("day", "day_points", 10), ("month", "month_points", 7), ("year", "year_points", 4))


def period_keys(on: date) -> dict[str, str]:
    day = on.isoformat()
    return {period: day[:width] for period, _, width in _PERIODS}


def used(bucket: dict[str, Any] | None, on: date) -> dict[str, int]:
    """Points already counted against each period containing `on`."""
    day = on.isoformat()
    return {
        period: bucket[total] if bucket and bucket.get(period) == day[:width] else 0
        for period, total, width in _PERIODS
    }


def cap_passed(
    caps: dict[str, int | None], bucket: dict[str, Any] | None, on: date, points: int
) -> tuple[str, int, int] | None:
    """The first cap (`per_day`, cap, already used) that `points` more would pass."""
    counted = used(bucket, on)
    for cap_name, period in PERIOD_OF_CAP.items():
        cap = caps.get(cap_name)
        if cap is not None and counted[period] + points > cap:
            return cap_name, cap, counted[period]
    return None


def room(caps: dict[str, int | None], bucket: dict[str, Any] | None, on: date) -> int | None:
    """Points the caps still allow on `on` (None when the rule has no cap)."""
    counted = used(bucket, on)
    left = [
        max(0, cap - counted[period])
        for cap_name, period in PERIOD_OF_CAP.items()
        if (cap := caps.get(cap_name)) is not None
    ]
    return min(left) if left else None


def count(buckets: dict[str, dict[str, Any]], rule_code: str, on: date, points: int) -> None:
    """Count `points` of `rule_code` in the periods of `on`, starting afresh in a new period."""
    bucket = buckets.setdefault(rule_code, {})
    day = on.isoformat()
    for period, total, width in _PERIODS:
        if bucket.get(period) == day[:width]:
            bucket[total] += points
        else:
            bucket[period] = day[:width]
            bucket[total] = points


def free(buckets: dict[str, dict[str, Any]], rule_code: str, on: date, points: int) -> None:
    """Take back `points` of `rule_code` counted on `on`, in those periods still current."""
    bucket = buckets.get(rule_code)
    if bucket is None:
        return
    day = on.isoformat()
    for period, total, width in _PERIODS:
        if bucket.get(period) == day[:width]:
            bucket[total] -= points


def credit_lots(lots: dict[str, int], balance_before: int, points: int, on: date) -> None:
    """Add what `points` leaves after paying off any debt to the lot of `on`."""
    fresh = max(0, balance_before + points) - max(0, balance_before)
    if not fresh:
        return
    day = on.isoformat()
    if day in lots:
        lots[day] += fresh
        return
    out_of_order = bool(lots) and day < next(reversed(lots))
    lots[day] = fresh
    if out_of_order:
        ordered = sorted(lots.items())
        lots.clear()
        lots.update(ordered)


def debit_lots(lots: dict[str, int], points: int, first: date | None = None) -> None:
    """Consume `points` from the lot of `first` (if any), then from the oldest lots.

    Lots are kept in date order, so the oldest come first without sorting."""
    left = points
    if first is not None and first.isoformat() in lots:
        left = _take(lots, first.isoformat(), left)
    for day in list(lots):
        if left == 0:
            break
        left = _take(lots, day, left)


def _take(lots: dict[str, int], day: str, points: int) -> int:
    taken = min(points, lots[day])
    if taken == lots[day]:
        del lots[day]
    else:
        lots[day] -= taken
    return points - taken


def lots_before(lots: dict[str, int], before: date) -> dict[str, int]:
    """The lots earned on local dates before `before`."""
    cutoff = before.isoformat()
    return {day: n for day, n in lots.items() if day < cutoff}
