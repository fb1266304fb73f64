"""Pledges: made, accepted, sessions logged and verified, fulfilled, lapsed or
withdrawn, reviewed."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

from api.simulation.core import Stream
from api.simulation.data import PLEDGES
from api.simulation.model import Community, SimPledge, at_local, weighted
from domain.calendar import local_date
from domain.commands.base import Meta
from domain.context import Actor


class PledgeStream(Stream):
    """Pledges: the simulation's stream of them."""

    def _pledge(self, community: Community, member: str) -> None:
        rng = self.rng
        kind, title = rng.choice(PLEDGES)
        target = Decimal(rng.choice([4, 6, 8, 10, 12, 16, 20]))
        fate = weighted(rng, [("fulfil", 78), ("lapse", 12), ("withdraw", 10)])
        for rare in ("lapse", "withdraw"):
            if self._rare(rare, 0.0):
                fate = rare
                break
        low, high = self.scale.pledge_days
        short = fate == "lapse" and self._rare("short_lapse", 0.5)  # a fortnight's promise
        days = low if short else rng.randint(low, high)
        due_on = local_date(self.clock()) + timedelta(days=days)
        meta = Meta(actor=Actor(member, "resident"))
        result = self._do(
            "make_pledge", meta, member_id=member, community=community.code, kind=kind,
            title=f"我是党员,我承诺: {title}", target_hours=target, due_on=due_on,
        )  # fmt: skip
        if result is None:
            return
        self.report.sizes["pledges"] += 1
        grid = self.home.get(member)
        verifier = community.staff[1]
        if grid is not None and grid.community is community and grid.worker_id != member:
            verifier = grid.worker or verifier
        pledge = SimPledge(str(result.id), member, community, verifier, target, due_on, fate)
        self.due.setdefault(due_on, []).append(pledge)
        if fate == "lapse" and rng.random() < 0.3:
            return  # never accepted: it lapses as pledged
        self._at(self._after(rng.uniform(60, 3 * 24 * 60)), self._accept_pledge, pledge)

    def _accept_pledge(self, pledge: SimPledge) -> None:
        if not pledge.open or not self._do("accept_pledge", pledge.community.staff[0], pledge.id):
            return
        rng = self.rng
        if pledge.fate == "withdraw":
            self._at(self._after(rng.uniform(24 * 60, 10 * 24 * 60)), self._withdraw, pledge)
            if rng.random() < 0.5:
                return
        self._next_session(pledge)

    def _next_session(self, pledge: SimPledge) -> None:
        """Plan the next session: on a later evening, spread so the target fits in time."""
        rng = self.rng
        today = local_date(self.clock())
        days_left = (pledge.due_on - today).days
        if days_left < 1:
            return
        average = Decimal(2)
        sessions_left = max(1, math.ceil((pledge.target - pledge.logged) / average))
        gap = max(1, min(7, days_left // (sessions_left + 1)))
        day = today + timedelta(days=rng.randint(1, gap))
        if pledge.fate == "lapse" and pledge.logged >= pledge.target / 3:
            return  # gives up: the due date will pass
        if day <= pledge.due_on:
            self._at(at_local(day, rng.uniform(18, 21)), self._log_session, pledge)

    def _log_session(self, pledge: SimPledge) -> None:
        if not pledge.open:
            return
        rng = self.rng
        hours = Decimal(rng.choice([1, 1.5, 2, 2, 3, 3, 4])).quantize(Decimal("0.1"))
        today = local_date(self.clock())
        meta = Meta(actor=Actor(pledge.member, "resident"))
        result = self._do("log_session", meta, pledge.id, hours=hours, on=today, note="服务记录")
        if result is None:
            return
        pledge.logged += hours
        verify_at = min(
            self._after(rng.uniform(30, 30 * 60)),
            at_local(pledge.due_on, 22) - timedelta(minutes=rng.uniform(0, 30)),
        )
        self._at(verify_at, self._verify, pledge, result.extra["session_no"])
        if pledge.logged < pledge.target:
            self._next_session(pledge)

    def _verify(self, pledge: SimPledge, session_no: int) -> None:
        if not pledge.open:
            return
        result = self._do("verify_session", pledge.verifier, pledge.id, session_no)
        if result is not None and result.extra["status"] == "fulfilled":
            pledge.open = False
            pledge.fulfilled = True
            pledge.community.accounts[pledge.member] = None
            if self.rng.random() < 0.7:
                self._at(
                    self._after(self.rng.uniform(3 * 24 * 60, 10 * 24 * 60)), self._review, pledge
                )

    def _withdraw(self, pledge: SimPledge) -> None:
        if pledge.open:
            reason = self.rng.choice(["工作调动", "身体原因", "岗位调整"])
            if self._do(
                "withdraw_pledge",
                Meta(actor=Actor(pledge.member, "resident")),
                pledge.id,
                reason=reason,
            ):
                pledge.open = False

    def _lapse(self, pledge: SimPledge) -> None:
        """The deadline watcher: an open pledge whose due date has passed lapses."""
        if not pledge.open:
            return
        pledge.open = False
        if self._do("lapse_pledge", self.watcher, pledge.id) and self.rng.random() < 0.5:
            self._at(self._after(self.rng.uniform(24 * 60, 7 * 24 * 60)), self._review, pledge)

    def _review(self, pledge: SimPledge) -> None:
        ratings = [5, 5, 5, 4, 4, 3] if pledge.fulfilled else [1, 2, 3]
        rating = self.rng.choice(ratings)
        self._do(
            "review_pledge", pledge.community.staff[1], pledge.id, rating=rating, comment="践诺评议"
        )
