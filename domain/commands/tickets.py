"""Commands for tickets (网格事项): report, handle, resolve, rate, visit, close.

Resolving a ticket that a member reported also applies the community's `valid_report`
points rules to that member, in the same transaction, unless the resolver is that
member or whoever recorded the report naming them (four eyes: `_earns_valid_report`).
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.commands.base import Handler, Meta, Outcome, command
from domain.commands.points import PointsCommands
from domain.context import current
from domain.jurisdiction import Kind
from domain.personal_data import Sealer, plain
from domain.ticket import Ticket
from domain.ticket_policy import TicketPolicy


class TicketCommands(PointsCommands):
    ticket_policy: TicketPolicy = TicketPolicy()

    @command
    def report_ticket(
        self,
        meta: Meta,
        *,
        category: str,
        description: str,
        grid: str,
        source: str,
        priority: str = "normal",
        location: dict[str, Any] | None = None,
        reporter_member_id: UUID | str | None = None,
    ) -> Handler:
        """Report a matter in a grid (随手拍 by a grid worker, a resident, the hotline)."""

        def handle() -> Outcome:
            node = self.require_kind(grid, Kind.GRID)
            member = None if reporter_member_id is None else self.member(reporter_member_id)
            reporter = None if member is None else member.id
            seal: Sealer = plain
            if member is not None:
                member.require_not_erased()
                seal = self.sealer_under(member.data_key)
            ticket = Ticket.report(
                category=category,
                description=description,
                grid=grid,
                community=cast(str, node.community()),  # a grid sits in a community
                source=source,
                priority=priority,
                location=location,
                reporter_member_id=reporter,
                policy=self.ticket_policy,
                seal=seal,
            )
            return Outcome(ticket)

        return handle

    @command
    def accept_ticket(self, meta: Meta, ticket_id: UUID | str) -> Handler:
        """Accept a reported ticket for handling."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            ticket.accept()
            return Outcome(ticket)

        return handle

    @command
    def reject_ticket(
        self,
        meta: Meta,
        ticket_id: UUID | str,
        *,
        reason: str,
        duplicate_of: UUID | str | None = None,
    ) -> Handler:
        """Reject a reported ticket as invalid, or as a duplicate of another ticket."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            original = None if duplicate_of is None else self.ticket(duplicate_of).id
            ticket.reject(reason, duplicate_of=original)
            return Outcome(ticket)

        return handle

    @command
    def dispatch_ticket(
        self, meta: Meta, ticket_id: UUID | str, *, level: str, assignee: str
    ) -> Handler:
        """Dispatch an accepted ticket to a handler at a level (派单)."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            ticket.dispatch(level, assignee)
            return Outcome(ticket)

        return handle

    @command
    def respond_ticket(self, meta: Meta, ticket_id: UUID | str, *, note: str) -> Handler:
        """Respond to a dispatched ticket (响应); a late first response is recorded as such."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            ticket.respond(note)
            return Outcome(ticket)

        return handle

    @command
    def escalate_ticket(
        self, meta: Meta, ticket_id: UUID | str, *, to_level: str, reason: str
    ) -> Handler:
        """Escalate a ticket to a higher level, to be dispatched there (吹哨/上报)."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            ticket.escalate(to_level, reason)
            return Outcome(ticket)

        return handle

    @command
    def supervise_ticket(self, meta: Meta, ticket_id: UUID | str, *, note: str) -> Handler:
        """Supervise a ticket that is being handled (督办)."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            ticket.supervise(note)
            return Outcome(ticket)

        return handle

    @command
    def resolve_ticket(self, meta: Meta, ticket_id: UUID | str, *, resolution: str) -> Handler:
        """Resolve a responded ticket (办结); its reporting member earns valid-report points."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            ticket.resolve(resolution)
            awards: list[Aggregate] = []
            if ticket.reporter_member_id is not None and self._earns_valid_report(ticket):
                awards = self._automatic_awards(
                    trigger="valid_report",
                    community=ticket.community,
                    member_id=ticket.reporter_member_id,
                    source_kind="ticket",
                    source_id=str(ticket.id),
                )
            return Outcome(ticket, others=awards)

        return handle

    def _earns_valid_report(self, ticket: Ticket) -> bool:
        """Whether resolving `ticket` now may earn its reporting member valid-report
        points: four eyes, as for any award. Not when the resolver is that member, nor
        when the resolver is who recorded the report naming them (a handler naming a
        friend as reporter, then resolving it, mints nothing). The ticket resolves
        either way; only the points are not applied."""
        actor = current().actor
        if actor.is_member(ticket.reporter_member_id):
            return False
        reported = next(iter(self.events.get(ticket.id, lte=1)), None)
        return reported is None or getattr(reported, "actor_id", None) != actor.id

    @command
    def rate_ticket(
        self,
        meta: Meta,
        ticket_id: UUID | str,
        *,
        satisfaction: str,
        comment: str | None = None,
    ) -> Handler:
        """Rate a resolved ticket's handling (评价); only its reporting member, if it has one."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            seal: Sealer = plain
            if comment is not None and ticket.reporter_member_id is not None:
                reporter = self.member(ticket.reporter_member_id)
                reporter.require_not_erased()
                seal = self.sealer_under(reporter.data_key)
            ticket.rate(satisfaction, comment, seal=seal)
            return Outcome(ticket)

        return handle

    @command
    def visit_ticket(self, meta: Meta, ticket_id: UUID | str, *, note: str) -> Handler:
        """Record a return visit about a resolved ticket (回访)."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            ticket.visit(note)
            return Outcome(ticket)

        return handle

    @command
    def close_ticket(self, meta: Meta, ticket_id: UUID | str) -> Handler:
        """Close a resolved ticket (销号)."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            ticket.close()
            return Outcome(ticket)

        return handle

    @command
    def reopen_ticket(self, meta: Meta, ticket_id: UUID | str, *, reason: str) -> Handler:
        """Reopen a resolved or closed ticket for another round, with a new resolution deadline."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            ticket.reopen(reason, policy=self.ticket_policy)
            return Outcome(ticket)

        return handle

    @command
    def record_response_overdue(self, meta: Meta, ticket_id: UUID | str) -> Handler:
        """Record that a ticket missed its response deadline; refused unless it did, once."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            ticket.record_response_overdue()
            return Outcome(ticket)

        return handle

    @command
    def record_resolution_overdue(self, meta: Meta, ticket_id: UUID | str) -> Handler:
        """Record that a ticket missed its resolution deadline; once a round, and only if it did."""

        def handle() -> Outcome:
            ticket = self.ticket(ticket_id)
            ticket.record_resolution_overdue()
            return Outcome(ticket)

        return handle

    def ticket(self, ticket_id: UUID | str) -> Ticket:
        """The ticket with `ticket_id`, or NotFoundError."""
        return self._get(Ticket, ticket_id, "Ticket")
