"""Synthetic community governance for demos and load tests: `gridledger simulate`.

Everything goes through `Governance` (its commands and rules), never raw SQL. The
generator builds a jurisdiction tree, registers a population and its organisations,
publishes rulebooks, then moves a simulated clock day by day; within a day every action
happens in time order, and follow-ups (accepting a ticket, checking out of an activity,
verifying a pledge session) are queued at their own later times. The shape follows the
real figures of docs/domain.md (Qinhuangdao Haigang, Huai'an Qinghe):

- members: five kinds (resident, in-service, retired, mobile, enterprise), party members
  among them; in-service and enterprise party members report in through their
  organisation (双报到), retired and mobile ones where they live; organisations report in
  with their needs, resources and projects; every grid has a grid worker, building and
  unit heads, and party members claim pioneer posts;
- rulebooks per community: attendance, valid report, pledge fulfilled (triggered),
  garbage sorting and most beautiful family (manual, approved by a second person), a
  good-deed rule, an uncivil-behaviour deduction, caps on each; a seasonal winter rule
  published in December and retired in March; a revision of the garbage rule;
- activities scheduled ahead, with check-ins and check-outs (some synced late from an
  offline phone, some forgotten), closed with attendance points, a few cancelled;
- pledges accepted, sessions logged and verified by the grid worker; most fulfilled,
  some lapse at their due date (recorded as the deadline watcher would), some withdrawn;
  fulfilled and lapsed ones reviewed;
- tickets (随手拍, residents, the hotline): most accepted, dispatched, answered within
  the hour and resolved in time; some rejected as duplicates or invalid, some answered
  late or resolved late (the watcher's overdue records come when the clock passes the
  deadline), escalated, supervised, rated dissatisfied and reopened; return visits and
  closing;
- points: manual awards with approvals (a few rejected), deductions (a few reversed on
  appeal), redemptions at the points supermarket, and the year-end clearing (年度清零)
  of everything earned before the new year.

Deterministic for a seed: one `random.Random(seed)` draws everything in a fixed order,
and the clock is simulated, so two runs record the same sequence of events (only the
server-made ids differ). Commands run in `Governance.batch()` units of `batch_size`
commands, one transaction each. A run starts at the clock's local date (the next day if
the clock is not at a local midnight) and leaves the clock at the end, so runs continue
one another; jurisdiction codes carry the seed, so runs with different seeds can share
one store.
"""

from __future__ import annotations

import heapq
import time as wallclock
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from api.simulation.activities import ActivityStream
from api.simulation.data import (
    BATCH_SIZE,
    DEFAULT_START,
    DISTRICTS,
    GARBAGE_REVISED,
    SCALES,
    WINTER_RULE,
)
from api.simulation.model import Grid, SimClock, SimReport, at_local
from api.simulation.pledges import PledgeStream
from api.simulation.points import PointsStream
from api.simulation.tickets import TicketStream
from api.simulation.tree import TreeStream
from domain.application import Governance
from domain.errors import DomainError

__all__ = ["DEFAULT_START", "SCALES", "SimClock", "SimReport", "Simulation", "simulate"]


def simulate(
    governance: Governance,
    clock: SimClock,
    scale: str,
    months: int,
    seed: int,
    progress: Callable[[SimReport], None] | None = None,
    *,
    batch_size: int = BATCH_SIZE,
) -> SimReport:
    """Simulate `months` months of `scale` from the clock's day; answer what was done."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
    if months < 1:
        raise ValueError("months must be at least 1")
    return Simulation(governance, clock, scale, months, seed, batch_size).run(progress)


class Simulation(TreeStream, TicketStream, ActivityStream, PledgeStream, PointsStream):
    """The simulation: its streams, and the loop that runs their actions in time order."""

    def run(self, progress: Callable[[SimReport], None] | None) -> SimReport:
        first = f"{DISTRICTS[0][0]}{self.seed}"
        try:
            self.gov.jurisdiction(first)
        except DomainError:
            pass
        else:
            raise ValueError(
                f"seed {self.seed} has already been simulated into this store (district "
                f"{first} exists): choose another seed or a fresh database"
            )
        started = wallclock.perf_counter()
        steps = self._steps()
        done = False
        while not done:
            with self.gov.batch(identity=self.identity) as work:
                while work.commands + work.refused < self.batch_size:
                    step = next(steps, None)
                    if step is None:
                        done = True
                        break
                    when, action, args = step
                    self.clock.set(when)
                    action(*args)
            self.report.events += len(work.recordings)
            self.report.batches += 1
            self.report.seconds = wallclock.perf_counter() - started
            if progress is not None:
                progress(self.report)
        self.report.in_flight = len(self.queue)
        self.report.seconds = wallclock.perf_counter() - started
        return self.report

    def _steps(self) -> Iterator[tuple[datetime, Callable[..., None], tuple[Any, ...]]]:
        """Every action in time order: the set-up, then each day's actions and follow-ups."""
        start, end = self.report.start, self.report.end
        yield from self._setup(start)
        day = start
        while day < end:
            self._plan_day(day, first=day == start)
            day_ends = at_local(day + timedelta(days=1), 0)
            while self.queue and self.queue[0][0] < day_ends:
                when, _, action, args = heapq.heappop(self.queue)
                yield when, action, args
            day += timedelta(days=1)
            self.report.days_done += 1
        if end.month == 1 and end.day == 1:
            # The period closed a year: clear what was earned in it (年度清零).
            yield from self._year_end(end)
        self.clock.set(max(self.clock(), at_local(end, 0)))

    def _plan_day(self, day: date, *, first: bool) -> None:
        s, rng = self.scale, self.rng
        grids, communities = len(self.grids), len(self.communities)
        days_in_month = 30.0
        if day.month == 1 and day.day == 1 and not first:
            for when, action, args in self._year_end(day):
                self._at(when, action, *args)
        for n, pledge in enumerate(self.due.pop(day - timedelta(days=1), [])):
            self._at(at_local(day, 0) + timedelta(minutes=5, seconds=n), self._lapse, pledge)
        self._seasons(day, first=first)
        for _ in range(self._count(s.tickets_per_grid_day * grids)):
            self._at(
                at_local(day, rng.triangular(7.0, 21.5, 10.0)),
                self._report,
                rng.choice(self.grids),
            )
        for _ in range(self._count(s.grid_activities_per_grid_month * grids / days_in_month)):
            grid = rng.choice(self.grids)
            self._at(at_local(day, rng.uniform(8.5, 17.5)), self._schedule, grid.community, grid)
        for _ in range(self._count(s.community_activities_per_month * communities / days_in_month)):
            self._at(
                at_local(day, rng.uniform(8.5, 17.5)),
                self._schedule,
                rng.choice(self.communities),
                None,
            )
        party = sum(len(c.party) for c in self.communities)
        for _ in range(self._count(s.pledges_per_party_member_month * party / days_in_month)):
            community = rng.choice(self.communities)
            if community.party:
                self._at(
                    at_local(day, rng.uniform(9, 21)),
                    self._pledge,
                    community,
                    rng.choice(community.party),
                )
        for _ in range(self._count(s.garbage_awards_per_grid_day * grids)):
            self._at(at_local(day, rng.uniform(8, 11)), self._garbage_award, rng.choice(self.grids))
        for _ in range(self._count(s.good_deeds_per_community_day * communities)):
            self._at(
                at_local(day, rng.uniform(9, 17)), self._good_deed, rng.choice(self.communities)
            )
        for _ in range(self._count(s.deductions_per_grid_month * grids / days_in_month)):
            self._at(at_local(day, rng.uniform(8, 20)), self._deduct, rng.choice(self.grids))
        rush = 3.0 if day.month == 12 and day.day >= 20 else 1.0  # before the year-end clearing
        for _ in range(self._count(s.redemptions_per_community_day * communities * rush)):
            self._at(at_local(day, rng.uniform(9, 18)), self._redeem, rng.choice(self.communities))
        for _ in range(self._count(s.newcomers_per_grid_month * grids / days_in_month)):
            self._at(at_local(day, rng.uniform(9, 17)), self._newcomer, rng.choice(self.grids))
        if day.day == 1 and not first:
            for community in self.communities:
                if rng.random() < 0.3:
                    when = at_local(day, rng.uniform(9, 17))
                    self._at(when, self._family_award, community)
        for _ in range(self._count(0.03 * grids / days_in_month)):
            self._at(at_local(day, rng.uniform(9, 17)), self._hand_over, rng.choice(self.grids))

    def _seasons(self, day: date, *, first: bool) -> None:
        """The winter rule comes in December and goes in March; the garbage rule is raised
        on the tenth day of the run (a new version, which later awards name)."""
        if day.month == 12 and day.day == 1 and not first:
            self.winter_rule = True
            for community in self.communities:
                self._at(at_local(day, 8), self._put_rule, community, "WINTER", WINTER_RULE)
        if day.month == 3 and day.day == 1 and self.winter_rule:
            self.winter_rule = False
            for community in self.communities:
                self._at(at_local(day, 8), self._retire_rule, community, "WINTER")
        if day == self.report.start + timedelta(days=9):
            for community in self.communities:
                if self.rng.random() < 0.5:
                    self._at(
                        at_local(day, 8.5), self._put_rule, community, "GARBAGE", GARBAGE_REVISED
                    )

    def _newcomer(self, grid: Grid) -> None:
        self._member(grid, newcomer=True)

    def _hand_over(self, grid: Grid) -> None:
        """A building head moves away and a neighbour takes over the building."""
        if not grid.heads or len(grid.residents) < 2:
            return
        leaving = grid.heads[0]
        if not self._do(
            "release_role", self.admin, leaving, role="building_head", jurisdiction=grid.code
        ):
            return
        grid.heads.remove(leaving)
        successor = self.rng.choice(grid.residents)
        if successor not in grid.heads and self._do(
            "claim_role", self.admin, successor, role="building_head", jurisdiction=grid.code,
            title="1号楼",
        ):  # fmt: skip
            grid.heads.append(successor)
