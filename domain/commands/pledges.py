"""Commands for pledges (承诺/践诺)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.commands.base import Handler, Meta, Outcome, command
from domain.commands.points import PointsCommands
from domain.jurisdiction import Kind
from domain.pledge import Pledge, PledgeStatus


class PledgeCommands(PointsCommands):
    @command
    def make_pledge(
        self,
        meta: Meta,
        *,
        member_id: UUID,
        community: str,
        kind: str,
        title: str,
        target_hours: Decimal,
        due_on: date,
    ) -> Handler:
        """A member pledges a service item, pioneer post or commitment to a community."""

        def handle() -> Outcome:
            member = self.member(member_id)
            self.require_kind(community, Kind.COMMUNITY)
            pledge = Pledge.make(
                member_id=member.id,
                community=community,
                kind=kind,
                title=title,
                target_hours=target_hours,
                due_on=due_on,
            )
            return Outcome(pledge)

        return handle

    @command
    def accept_pledge(self, meta: Meta, pledge_id: UUID) -> Handler:
        """The community accepts a pledge."""

        def handle() -> Outcome:
            pledge = self.pledge(pledge_id)
            pledge.accept()
            return Outcome(pledge)

        return handle

    @command
    def log_session(
        self,
        meta: Meta,
        pledge_id: UUID,
        *,
        hours: Decimal,
        on: date,
        note: str | None = None,
    ) -> Handler:
        """Log a service session on an accepted pledge; answers its `session_no`."""

        def handle() -> Outcome:
            pledge = self.pledge(pledge_id)
            session_no = pledge.log_session(hours, on, note)
            return Outcome(pledge, extra={"session_no": session_no})

        return handle

    @command
    def verify_session(self, meta: Meta, pledge_id: UUID, session_no: int) -> Handler:
        """Verify a service session; fulfils the pledge (and awards its points, in the same
        transaction) once verified hours reach the target. Answers the pledge's `status`."""

        def handle() -> Outcome:
            pledge = self.pledge(pledge_id)
            pledge.verify_session(session_no)
            awards: list[Aggregate] = []
            if pledge.status == PledgeStatus.FULFILLED:
                awards = self._automatic_awards(
                    trigger="pledge_fulfilled",
                    community=pledge.community,
                    member_id=pledge.member_id,
                    source_kind="pledge",
                    source_id=str(pledge.id),
                )
            return Outcome(pledge, others=awards, extra={"status": pledge.status})

        return handle

    @command
    def withdraw_pledge(self, meta: Meta, pledge_id: UUID, *, reason: str) -> Handler:
        """Withdraw an open pledge, saying why."""

        def handle() -> Outcome:
            pledge = self.pledge(pledge_id)
            pledge.withdraw(reason)
            return Outcome(pledge)

        return handle

    @command
    def lapse_pledge(self, meta: Meta, pledge_id: UUID) -> Handler:
        """Record that an open pledge's due date has passed (the deadline watcher's command);
        refused with a RuleViolationError when it is not open or not yet due."""

        def handle() -> Outcome:
            pledge = self.pledge(pledge_id)
            pledge.lapse()
            return Outcome(pledge)

        return handle

    @command
    def review_pledge(
        self, meta: Meta, pledge_id: UUID, *, rating: int, comment: str | None = None
    ) -> Handler:
        """Review a fulfilled or lapsed pledge (践诺评议), once."""

        def handle() -> Outcome:
            pledge = self.pledge(pledge_id)
            pledge.review_fulfilment(rating, comment)
            return Outcome(pledge)

        return handle

    def pledge(self, pledge_id: UUID | str) -> Pledge:
        """The pledge with `pledge_id`, or NotFoundError."""
        return self._get(Pledge, pledge_id, "Pledge")
