"""The set-up: the jurisdiction tree, rulebooks, organisations, members and roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from api.simulation.core import Stream
from api.simulation.data import (
    COMMUNITY_NAMES,
    DISTRICTS,
    MEMBER_KINDS,
    NEEDS,
    ORG_KINDS,
    ORG_PREFIXES,
    PARTY_SHARE,
    PIONEER_POSTS,
    PROJECTS,
    RESOURCES,
    RULES,
    STREET_NAMES,
    WINTER_RULE,
)
from api.simulation.model import (
    Community,
    Grid,
    Street,
    at_local,
    numeral,
    person_name,
    weighted,
    winter,
)
from domain.assessment_policy import DEFAULT_TERMS
from domain.commands.base import Meta
from domain.context import Actor


class TreeStream(Stream):
    """The set-up: the simulation's stream of them."""

    def _setup(self, day: date) -> Iterator[tuple[datetime, Callable[..., None], tuple[Any, ...]]]:
        s = self.scale
        commands = s.districts * s.streets * s.communities * s.grids * s.members_per_grid * 3
        step = timedelta(seconds=min(1.0, 6 * 3600 / max(commands, 1)))
        when = at_local(day, 0)

        def tick() -> datetime:
            nonlocal when
            when += step
            return when

        for d in range(s.districts):
            abbr, district_name = DISTRICTS[d % len(DISTRICTS)]
            district = f"{abbr}{self.seed}" + (f"x{d // len(DISTRICTS)}" if d >= 4 else "")
            yield tick(), self._define, (district, "district", district_name, None)
            yield tick(), self._assessment_policy, (district,)
            for si in range(s.streets):
                street = self._street(district, si)
                yield tick(), self._define, (street.code, "street", street.name, district)
                for ci in range(s.communities):
                    community = self._community(street, ci)
                    yield (
                        tick(),
                        self._define,
                        (community.code, "community", community.name, street.code),
                    )
                    for gi in range(s.grids):
                        grid = Grid(
                            f"{community.code}-{gi + 1:02d}",
                            f"{community.name}{numeral(gi)}网格",
                            community,
                        )
                        community.grids.append(grid)
                        self.grids.append(grid)
                        yield tick(), self._define, (grid.code, "grid", grid.name, community.code)
        self.winter_rule = winter(day)
        for community in self.communities:
            for code, terms in RULES:
                yield tick(), self._put_rule, (community, code, terms)
            if self.winter_rule:
                yield tick(), self._put_rule, (community, "WINTER", WINTER_RULE)
            for _ in range(self._count(s.organisations_per_community)):
                yield tick(), self._organisation, (community,)
        for grid in self.grids:
            for _ in range(s.members_per_grid):
                yield tick(), self._member, (grid,)
        for grid in self.grids:
            yield tick(), self._roles, (grid,)
        self.report.sizes.update(
            streets=len(self.streets), communities=len(self.communities), grids=len(self.grids)
        )

    def _define(self, code: str, kind: str, name: str, parent: str | None) -> None:
        self._do("define_jurisdiction", self.admin, code=code, kind=kind, name=name, parent=parent)

    def _assessment_policy(self, district: str) -> None:
        """The district's assessment policy (考核口径): the defaults, recorded as version 1."""
        self._do("put_assessment_policy", self.admin, district, DEFAULT_TERMS)

    def _street(self, district: str, index: int) -> Street:
        names = STREET_NAMES.split()
        name = names[len(self.streets) % len(names)] + "街道"
        code = f"{district}-{index + 1:02d}"
        street = Street(code, name, Meta(actor=Actor(f"staff:{code}", "street_staff")))
        self.streets.append(street)
        return street

    def _community(self, street: Street, index: int) -> Community:
        names = COMMUNITY_NAMES.split()
        n = len(self.communities)
        name = names[n % len(names)] + (str(n // len(names) + 1) if n >= len(names) else "")
        code = f"{street.code}-{index + 1:02d}"
        staff = (
            Meta(actor=Actor(f"staff:{code}:1", "community_staff")),
            Meta(actor=Actor(f"staff:{code}:2", "community_staff")),
        )
        community = Community(code, name + "社区", street, staff)
        self.communities.append(community)
        return community

    def _put_rule(self, community: Community, code: str, terms: dict[str, Any]) -> None:
        self._do("put_rule", community.staff[0], community.code, code, **terms)

    def _retire_rule(self, community: Community, code: str) -> None:
        self._do("retire_rule", community.staff[0], community.code, code)

    def _organisation(self, community: Community) -> None:
        rng = self.rng
        name = rng.choice(ORG_PREFIXES) + rng.choice(ORG_KINDS)
        result = self._do("register_organisation", self.admin, name=name)
        if result is None:
            return
        lists = {
            "needs": rng.sample(NEEDS, rng.randint(1, 3)),
            "resources": rng.sample(RESOURCES, rng.randint(1, 3)),
            "projects": rng.sample(PROJECTS, rng.randint(1, 2)),
        }
        places = [community]
        if rng.random() < 0.2 and len(self.communities) > 1:
            places.append(rng.choice(self.communities))
        for place in places:
            if place.organisations and str(result.id) in place.organisations:
                continue
            staff = place.staff[0]
            if self._do("report_in_organisation", staff, result.id, community=place.code, **lists):
                place.organisations.append(str(result.id))
        self.report.sizes["organisations"] += 1

    def _member(self, grid: Grid, *, newcomer: bool = False) -> None:
        rng = self.rng
        kind = weighted(rng, MEMBER_KINDS)
        party = rng.random() < PARTY_SHARE[kind]
        lives_here = kind != "in_service" or rng.random() < 0.9
        home = grid if lives_here else None
        result = self._do(
            "register_member", self.admin, name=person_name(rng),
            phone=f"13{rng.randrange(10**9):09d}",
            kind=kind, party_member=party, home_grid=home.code if home else None,
        )  # fmt: skip
        if result is None:
            return
        member = str(result.id)
        community = grid.community
        self.party[member] = party
        self.report.sizes["members"] += 1
        if home is not None:
            self.home[member] = grid
            grid.residents.append(member)
            self._belongs(member, community)
        if (party and kind in ("retired", "mobile")) or (party and kind == "resident" and newcomer):
            self._do(
                "report_in_member", self.admin, member, community=community.code, grid=grid.code
            )
        if kind in ("in_service", "enterprise") and (party or rng.random() < 0.2):
            # 双报到: through the organisation where it is, and where the member lives.
            workplace = rng.choice(self.communities)
            organisation = rng.choice(workplace.organisations) if workplace.organisations else None
            if organisation is not None and self._do(
                "report_in_member", self.admin, member, community=workplace.code,
                organisation_id=organisation,
            ):  # fmt: skip
                self._belongs(member, workplace)
            if home is not None and workplace is not community and party:
                self._do(
                    "report_in_member", self.admin, member, community=community.code, grid=grid.code
                )
        if party and home is not None and rng.random() < 0.15:
            self._claim_pioneer_post(member, grid)

    def _belongs(self, member: str, community: Community) -> None:
        if community.members and community.members[-1] == member:
            return
        community.members.append(member)
        if self.party.get(member):
            community.party.append(member)

    def _claim_pioneer_post(self, member: str, grid: Grid) -> None:
        place = grid.code if self.rng.random() < 0.5 else grid.community.code
        title = self.rng.choice(PIONEER_POSTS)
        self._do(
            "claim_role", self.admin, member, role="pioneer_post", jurisdiction=place, title=title
        )

    def _roles(self, grid: Grid) -> None:
        rng = self.rng
        if not grid.residents:
            return
        worker = rng.choice(grid.residents)
        if self._do("claim_role", self.admin, worker, role="grid_worker", jurisdiction=grid.code):
            grid.worker = Meta(actor=Actor(worker, "grid_worker"))
            grid.worker_id = worker
        for n in range(rng.randint(1, 3)):
            head = rng.choice(grid.residents)
            if head not in grid.heads and self._do(
                "claim_role", self.admin, head, role="building_head", jurisdiction=grid.code,
                title=f"{n + 1}号楼",
            ):  # fmt: skip
                grid.heads.append(head)
        for n in range(rng.randint(0, 1)):
            head = rng.choice(grid.residents)
            self._do(
                "claim_role",
                self.admin,
                head,
                role="unit_head",
                jurisdiction=grid.code,
                title=f"{n + 1}单元",
            )
