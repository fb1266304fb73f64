"""Commands for members and organisations: registering, reporting in (报到), claiming roles."""

from __future__ import annotations

from uuid import UUID

from domain.commands.base import CommandBase, Handler, Meta, Outcome, command
from domain.jurisdiction import Kind
from domain.member import Member
from domain.organisation import Organisation


class MemberCommands(CommandBase):
    @command
    def register_member(
        self,
        meta: Meta,
        *,
        name: str,
        phone: str,
        kind: str,
        party_member: bool,
        home_grid: str | None,
    ) -> Handler:
        """Register a member; `home_grid` is the grid they live in, if known."""

        def handle() -> Outcome:
            grid = self.require_kind(home_grid, Kind.GRID) if home_grid is not None else None
            member = Member.register(
                name=name,
                phone=phone,
                kind=kind,
                party_member=party_member,
                home_grid=grid,
                seal=self.new_subject_sealer(),
            )
            return Outcome(member)

        return handle

    @command
    def report_in_member(
        self,
        meta: Meta,
        member_id: UUID | str,
        *,
        community: str,
        grid: str | None = None,
        organisation_id: UUID | str | None = None,
    ) -> Handler:
        """A member reports in (报到) to a community, perhaps a grid, via an organisation or not."""

        def handle() -> Outcome:
            member = self.member(member_id)
            node = self.require_kind(community, Kind.COMMUNITY)
            grid_node = self.require_kind(grid, Kind.GRID) if grid is not None else None
            organisation = (
                self.organisation(organisation_id) if organisation_id is not None else None
            )
            member.report_in(node, grid=grid_node, organisation=organisation)
            return Outcome(member)

        return handle

    @command
    def claim_role(
        self,
        meta: Meta,
        member_id: UUID | str,
        *,
        role: str,
        jurisdiction: str,
        title: str | None = None,
    ) -> Handler:
        """A member claims a role (认领) in a grid, or a pioneer post in a community or grid."""

        def handle() -> Outcome:
            member = self.member(member_id)
            member.claim_role(role, self.jurisdiction(jurisdiction), title=title)
            return Outcome(member)

        return handle

    @command
    def release_role(
        self, meta: Meta, member_id: UUID | str, *, role: str, jurisdiction: str
    ) -> Handler:
        """A member releases a role they hold in `jurisdiction`."""

        def handle() -> Outcome:
            member = self.member(member_id)
            member.release_role(role, jurisdiction)
            return Outcome(member)

        return handle

    @command
    def register_organisation(self, meta: Meta, *, name: str) -> Handler:
        """Register an organisation (驻区单位)."""

        def handle() -> Outcome:
            return Outcome(Organisation.register(name=name))

        return handle

    @command
    def report_in_organisation(
        self,
        meta: Meta,
        organisation_id: UUID | str,
        *,
        community: str,
        needs: list[str],
        resources: list[str],
        projects: list[str],
    ) -> Handler:
        """An organisation reports in to a community with its needs, resources and projects."""

        def handle() -> Outcome:
            organisation = self.organisation(organisation_id)
            self.require_kind(community, Kind.COMMUNITY)
            organisation.report_in(community, needs=needs, resources=resources, projects=projects)
            return Outcome(organisation)

        return handle

    def member(self, member_id: UUID | str) -> Member:
        """The member with `member_id`, or NotFoundError."""
        return self._get(Member, member_id, "Member")

    def organisation(self, organisation_id: UUID | str) -> Organisation:
        """The organisation with `organisation_id`, or NotFoundError."""
        return self._get(Organisation, organisation_id, "Organisation")
