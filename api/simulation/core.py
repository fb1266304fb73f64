"""The shared state and helpers of the simulation's streams."""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from api.simulation.data import SCALES
from api.simulation.model import (
    Community,
    Grid,
    SimClock,
    SimPledge,
    SimReport,
    Street,
    add_months,
    at_local,
)
from domain.application import Governance
from domain.calendar import local_date
from domain.commands.base import CommandResult, IdentityMap, Meta
from domain.context import SYSTEM, Actor
from domain.errors import DomainError


class Stream:
    """What every stream of the simulation shares: the state and the helpers that queue
    actions, run commands and draw counts; `Simulation` combines the streams."""

    def __init__(
        self,
        governance: Governance,
        clock: SimClock,
        scale: str,
        months: int,
        seed: int,
        batch_size: int,
    ) -> None:
        self.gov = governance
        self.clock = clock
        self.scale = SCALES[scale]
        self.rng = random.Random(seed)
        self.seed = seed
        self.batch_size = batch_size
        start = local_date(clock())
        if clock() != at_local(start, 0):
            start += timedelta(days=1)
        self.report = SimReport(scale=scale, seed=seed, start=start, end=add_months(start, months))
        self.admin = Meta(actor=Actor("sim-admin", "admin"))
        self.hotline = Meta(actor=Actor("hotline-12345", "street_staff"))
        self.watcher = Meta(actor=SYSTEM)
        self.queue: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self.sequence = itertools.count()
        self.streets: list[Street] = []
        self.communities: list[Community] = []
        self.grids: list[Grid] = []
        self.home: dict[str, Grid] = {}  # member -> home grid
        self.party: dict[str, bool] = {}
        self.due: dict[date, list[SimPledge]] = {}
        self.manual: Counter[tuple[str, str, str, str]] = Counter()  # caps bookkeeping
        self.shown: set[str] = set()  # rare outcomes shown once already
        self.identity = IdentityMap()  # the generator is the store's only writer
        self.winter_rule = False  # whether the seasonal rule is in force

    def _at(self, when: datetime, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self.queue, (max(when, self.clock()), next(self.sequence), action, args))

    def _do(self, command: str, *args: Any, **kwargs: Any) -> CommandResult | None:
        """Run a command of `Governance`; a refusal is counted and answers None."""
        try:
            result: CommandResult = getattr(self.gov, command)(*args, **kwargs)
        except DomainError as refused:
            self.report.refused[f"{command}: {type(refused).__name__}"] += 1
            return None
        self.report.commands[command] += 1
        return result

    def _rare(self, kind: str, chance: float) -> bool:
        """Whether a rare outcome happens: the first time it is asked for it does, so that
        every run, even a tiny one, shows every kind of event; after that, by chance."""
        if kind not in self.shown:
            self.shown.add(kind)
            return True
        return self.rng.random() < chance

    def _count(self, mean: float) -> int:
        """A Poisson count with this mean."""
        if mean <= 0:
            return 0
        if mean > 30:
            return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))
        limit, k, p = math.exp(-mean), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def _after(self, minutes: float) -> datetime:
        return self.clock() + timedelta(minutes=minutes)
