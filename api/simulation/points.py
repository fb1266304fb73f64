"""Points: manual awards and approvals, deductions and reversals, redemptions, the
year-end expiry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from api.simulation.core import Stream
from api.simulation.data import ITEMS, RULES, WINTER_RULE
from api.simulation.model import Community, Grid, at_local
from domain.calendar import local_date
from domain.errors import DomainError


class PointsStream(Stream):
    """Points: the simulation's stream of them."""

    def _fits(
        self, member: str, community: Community, rule: str, points: int, caps: dict[str, int | None]
    ) -> bool:
        """Whether a manual entry stays inside the rule's caps (the generator's own count)."""
        today = local_date(self.clock()).isoformat()
        periods = {"per_day": today, "per_month": today[:7], "per_year": today[:4]}
        for cap, period in periods.items():
            limit = caps.get(cap)
            if (
                limit is not None
                and self.manual[(member, community.code, rule, period)] + points > limit
            ):
                return False
        for period in periods.values():
            self.manual[(member, community.code, rule, period)] += points
        return True

    def _garbage_award(self, grid: Grid) -> None:
        rng = self.rng
        if grid.worker is None or not grid.residents:
            return
        member = rng.choice(grid.residents)
        caps = dict(RULES)["GARBAGE"]["caps"]
        if member == grid.worker_id or not self._fits(member, grid.community, "GARBAGE", 4, caps):
            return
        source = f"{grid.code}/{local_date(self.clock())}/{rng.randrange(10**6)}"
        result = self._do(
            "award_points", grid.worker, member_id=member, community=grid.community.code,
            rule_code="GARBAGE", source_kind="inspection", source_id=source, note="桶边督导检查",
        )  # fmt: skip
        if result is None:
            return
        grid.community.accounts[member] = None
        self._at(
            self._after(rng.uniform(60, 3 * 24 * 60)),
            self._review_award,
            grid.community,
            result.extra["entry_id"],
        )

    def _review_award(self, community: Community, entry_id: str) -> None:
        staff = community.staff[0]
        if self._rare("reject_award", 0.05):
            self._do("reject_award", staff, entry_id, reason="检查记录不完整")
        elif self.rng.random() < 0.97:
            self._do("approve_award", staff, entry_id)

    def _family_award(self, community: Community) -> None:
        if not community.members:
            return
        member = self.rng.choice(community.members)
        caps = dict(RULES)["FAMILY"]["caps"]
        if not self._fits(member, community, "FAMILY", 30, caps):
            return
        result = self._do(
            "award_points", community.staff[1], member_id=member, community=community.code,
            rule_code="FAMILY", source_kind="selection", source_id=f"{community.code}/{local_date(self.clock()):%Y-%m}",  # noqa: E501
            note="最美家庭评选",
        )  # fmt: skip
        if result is not None:
            community.accounts[member] = None
            self._at(
                self._after(self.rng.uniform(60, 2 * 24 * 60)),
                self._review_award,
                community,
                result.extra["entry_id"],
            )

    def _good_deed(self, community: Community) -> None:
        if not community.members:
            return
        rng = self.rng
        member = rng.choice(community.members)
        winter = self.winter_rule and rng.random() < 0.3
        rule, terms = ("WINTER", WINTER_RULE) if winter else ("DEED", dict(RULES)["DEED"])
        if not self._fits(member, community, rule, terms["points"], terms["caps"]):
            return
        result = self._do(
            "award_points", community.staff[1], member_id=member, community=community.code,
            rule_code=rule, source_kind="deed", source_id=f"{local_date(self.clock())}/{rng.randrange(10**6)}",  # noqa: E501
            note="好人好事登记",
        )  # fmt: skip
        if result is not None:
            community.accounts[member] = None

    def _deduct(self, grid: Grid) -> None:
        rng = self.rng
        if not grid.residents:
            return
        member = rng.choice(grid.residents)
        terms = dict(RULES)["UNCIVIL"]
        if not self._fits(member, grid.community, "UNCIVIL", terms["points"], terms["caps"]):
            return
        meta = grid.worker if grid.worker_id != member and grid.worker else grid.community.staff[0]
        result = self._do(
            "deduct_points", meta, member_id=member, community=grid.community.code,
            rule_code="UNCIVIL", source_kind="inspection",
            source_id=f"{grid.code}/{local_date(self.clock())}/{rng.randrange(10**6)}",
            note=rng.choice(["乱扔垃圾", "高空抛物", "占道堆物", "不文明养犬"]),
        )  # fmt: skip
        if result is None:
            return
        grid.community.accounts[member] = None
        if self._rare("appeal", 0.1):
            # Appealed and upheld: the deduction is reversed.
            when = self._after(rng.uniform(24 * 60, 5 * 24 * 60))
            self._at(when, self._reverse, grid.community, result.extra["entry_id"])

    def _reverse(self, community: Community, entry_id: str) -> None:
        self._do("reverse_entry", community.staff[1], entry_id, reason="居民申诉核实有误")

    def _redeem(self, community: Community) -> None:
        if not community.accounts:
            return
        rng = self.rng
        members = list(community.accounts)
        member = members[rng.randrange(len(members))]
        try:
            balance = self.gov.points_account(member, community.code).balance
        except DomainError:
            return  # no account yet: nothing earned
        affordable = [item for item in ITEMS if item[1] <= balance]
        if not affordable:
            return
        item, points = rng.choice(affordable)
        self._do(
            "redeem_points",
            community.staff[0],
            member_id=member,
            community=community.code,
            item=item,
            points=points,
        )

    def _year_end(
        self, new_year: date
    ) -> Iterator[tuple[datetime, Callable[..., None], tuple[Any, ...]]]:
        when = at_local(new_year, 0.5)
        for community in self.communities:
            for member in list(community.accounts):
                when += timedelta(milliseconds=100)
                yield when, self._expire, (community, member, new_year)

    def _expire(self, community: Community, member: str, before: date) -> None:
        self._do(
            "expire_points", self.watcher, member_id=member, community=community.code, before=before
        )
