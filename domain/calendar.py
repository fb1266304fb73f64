"""Local calendar time: the days, months and years the communities count in.

Events record UTC instants; deadlines, caps and expiry count in local dates
(Asia/Shanghai, no daylight saving).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_date(dt: datetime) -> date:
    """The local date of an aware instant."""
    return dt.astimezone(LOCAL_TZ).date()


def start_of_local_day(d: date) -> datetime:
    """The first instant of local date `d`, in UTC."""
    return datetime.combine(d, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)


def end_of_local_day(d: date) -> datetime:
    """The first instant after local date `d` (its end, exclusive), in UTC."""
    return datetime.combine(d + timedelta(days=1), time(0), tzinfo=LOCAL_TZ).astimezone(UTC)
