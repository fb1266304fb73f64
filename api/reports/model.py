"""What a report shows, as plain values (`ReportData`), and how its figures are written."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import NamedTuple

from domain.calendar import LOCAL_TZ

EVALUATING_URL = "README.md#evaluating"
NA = "n/a"
TOP = 15
"""Children in the overdue chart, workers in the table: the first so many."""


class Headline(NamedTuple):
    label_en: str
    label_zh: str
    value: float | int | None
    numerator: int | None = None
    denominator: int | None = None
    unit: str = "rate"
    """rate (a fraction, shown as a percentage), count, points, hours or score."""


class Month(NamedTuple):
    month: date
    """The first day of the month."""
    response_in_time_rate: float | None
    on_time_resolution_rate: float | None
    satisfaction_rate: float | None
    three_rates_score: float | None
    """A fraction in [0, 1], like the rates (the weighted mean of the three)."""


class ChildOverdue(NamedTuple):
    code: str
    name: str
    response_overdue: int
    resolution_overdue: int


class PointsMonth(NamedTuple):
    month: date
    issued: int
    redeemed: int
    deducted: int
    expired: int


class Worker(NamedTuple):
    name: str
    stars: int | None
    tickets: int
    satisfaction_rate: float | None


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, as plain values."""

    jurisdiction_code: str
    jurisdiction_name: str
    start: date
    end: date
    """The period's last day (inclusive)."""
    as_of: datetime | None
    """The record as it stood then; None: as it stands now."""
    position: int
    """The projection position the figures reflect."""
    policy_version: str | None
    headline: Sequence[Headline]
    monthly: Sequence[Month]
    overdue_by_child: Sequence[ChildOverdue]
    points_flow: Sequence[PointsMonth]
    workers: Sequence[Worker]
    notes: Sequence[str] = ()
    """Further lines for the footnote (how the figures were assembled)."""
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


# --- formatting ---


def fmt_value(value: float | int | None, unit: str = "rate") -> str:
    """A figure as shown: rates as percentages, counts with separators, None as n/a."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NA
    if unit in ("rate", "score"):
        return f"{value * 100:.1f}%"
    if unit == "hours":
        return f"{value:,.1f}"
    return f"{int(value):,}"


def fmt_ratio(numerator: int | None, denominator: int | None) -> str:
    if numerator is None or denominator is None:
        return ""
    return f"{numerator:,} / {denominator:,}"


def fmt_stars(stars: int | None) -> str:
    return NA if stars is None else "★" * stars + "☆" * (5 - stars)


def fmt_time(moment: datetime | None) -> str:
    if moment is None:
        return "now / 当前"
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S %z")


def top_children(data: ReportData) -> list[ChildOverdue]:
    ranked = sorted(
        data.overdue_by_child,
        key=lambda c: (-(c.response_overdue + c.resolution_overdue), c.code),
    )
    return ranked[:TOP]


def top_workers(data: ReportData) -> list[Worker]:
    ranked = sorted(data.workers, key=lambda w: (-(w.stars or 0), -w.tickets, w.name))
    return ranked[:TOP]


# --- fonts and labels ---
