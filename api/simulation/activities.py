"""Activities: scheduled, attended (check-ins and check-outs), closed or cancelled."""

from __future__ import annotations

from datetime import datetime, timedelta

from api.simulation.core import Stream
from api.simulation.data import ACTIVITIES
from api.simulation.model import Community, Grid, SimActivity, at_local, winter
from domain.calendar import local_date
from domain.commands.base import Meta
from domain.context import Actor


class ActivityStream(Stream):
    """Activities: the simulation's stream of them."""

    def _schedule(self, community: Community, grid: Grid | None) -> None:
        rng = self.rng
        organiser = grid.worker if grid is not None and grid.worker else community.staff[0]
        day = local_date(self.clock()) + timedelta(days=rng.randint(2, 10))
        starts = at_local(day, rng.choice([9.0, 9.5, 14.5, 15.0, 19.0]))
        ends = starts + timedelta(minutes=rng.choice([90, 120, 150, 180]))
        title = rng.choice(ACTIVITIES + (["扫雪铲冰"] if winter(day) else []))
        rule = "ATTEND" if rng.random() < 0.8 else None
        result = self._do(
            "schedule_activity", organiser, title=title,
            jurisdiction=grid.code if grid else community.code, starts_at=starts, ends_at=ends,
            points_rule=rule,
        )  # fmt: skip
        if result is None:
            return
        self.report.sizes["activities"] += 1
        activity = SimActivity(str(result.id), organiser, community, starts, ends, rule is not None)
        if self._rare("cancel", 0.05):
            when = starts - timedelta(hours=rng.uniform(3, 30))
            self._at(when, self._cancel, activity)
            return
        pool = grid.residents if grid is not None and len(grid.residents) > 5 else community.members
        low, high = self.scale.attendees
        for member in rng.sample(pool, min(len(pool), rng.randint(low, high))):
            self._plan_attendance(activity, member)
        self._at(ends + timedelta(minutes=rng.uniform(30, 180)), self._close_activity, activity)

    def _plan_attendance(self, activity: SimActivity, member: str) -> None:
        rng = self.rng
        checked_in = activity.starts + timedelta(minutes=rng.uniform(-20, 15))
        offline = rng.random() < 0.1
        synced = checked_in + timedelta(minutes=rng.uniform(10, 40)) if offline else checked_in
        self._at(synced, self._check_in, activity, member, checked_in if offline else None)
        roll = rng.random()
        if roll < 0.04:
            return  # forgets to check out: no hours
        if roll < 0.12:
            out = activity.starts + (activity.ends - activity.starts) * rng.uniform(0.3, 0.7)
        else:
            out = activity.ends + timedelta(minutes=rng.uniform(-25, 20))
        out = max(out, synced + timedelta(minutes=5))
        self._at(out, self._check_out, activity, member)

    def _check_in(self, activity: SimActivity, member: str, field_time: datetime | None) -> None:
        meta = Meta(actor=Actor(member, "resident"), occurred_at=field_time)
        if self._do("check_in", meta, activity.id, member_id=member):
            activity.checked_in.append(member)

    def _check_out(self, activity: SimActivity, member: str) -> None:
        meta = Meta(actor=Actor(member, "resident"))
        if member in activity.checked_in and self._do(
            "check_out", meta, activity.id, member_id=member
        ):
            activity.completed.append(member)

    def _close_activity(self, activity: SimActivity) -> None:
        if self._do("close_activity", activity.organiser, activity.id) and activity.points:
            for member in activity.completed:
                activity.community.accounts[member] = None

    def _cancel(self, activity: SimActivity) -> None:
        reason = self.rng.choice(["天气原因", "场地临时调整", "报名人数不足"])
        self._do("cancel_activity", activity.organiser, activity.id, reason=reason)
