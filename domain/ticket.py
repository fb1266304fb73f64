"""Ticket: one grid matter (网格事项), from 随手拍 to 一小时响应, 办结, 评价, 回访 and 销号.

    reported -> accepted | rejected
    accepted -> dispatched -> responded -> resolved -> closed
    dispatched | responded -> accepted       (escalate: a higher level takes it over)
    resolved | closed -> dispatched          (reopen: a new round of handling)

Rating and return visits happen while resolved, supervision while it is being
handled. A missed response or resolution deadline is itself an event: recorded by the
deadline watcher, or by the late response or resolution itself when it comes first.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.base import GovernedAggregate
from domain.context import current
from domain.errors import (
    AlreadyRatedError,
    DispatchLevelError,
    DuplicateOfError,
    EscalationLevelError,
    InvalidTransitionError,
    RatedByReporterError,
    ResolutionNotOverdueError,
    ResponseNotOverdueError,
)
from domain.personal_data import Sealer, plain
from domain.ticket_policy import (
    ALLOWED_FROM,
    DEFAULT_POLICY,
    Level,
    Priority,
    RejectionReason,
    Satisfaction,
    Source,
    Status,
    TicketPolicy,
    checked_location,
    parse,
    text,
    why_not_overdue,
)


class Ticket(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Reported: ClassVar[type[Any]]
        Accepted: ClassVar[type[Any]]
        Rejected: ClassVar[type[Any]]
        Dispatched: ClassVar[type[Any]]
        Responded: ClassVar[type[Any]]
        Escalated: ClassVar[type[Any]]
        Supervised: ClassVar[type[Any]]
        Resolved: ClassVar[type[Any]]
        Rated: ClassVar[type[Any]]
        Visited: ClassVar[type[Any]]
        Closed: ClassVar[type[Any]]
        Reopened: ClassVar[type[Any]]
        ResponseOverdue: ClassVar[type[Any]]
        ResolutionOverdue: ClassVar[type[Any]]

    @classmethod
    def report(
        cls,
        *,
        category: str,
        description: str,
        grid: str,
        community: str,
        source: str,
        priority: str = Priority.NORMAL.value,
        location: dict[str, Any] | None = None,
        reporter_member_id: UUID | None = None,
        policy: TicketPolicy = DEFAULT_POLICY,
        seal: Sealer = plain,
    ) -> Ticket:
        """A new ticket, its deadlines counted by `policy` from the time it is recorded.
        The description and address a member reported are sealed by `seal` under that
        member (see `domain.personal_data`)."""
        category = text(category, "category")
        chosen = parse(Priority, priority, "priority")
        now = current().now
        place = checked_location(location)
        described: Any = text(description, "description")
        if reporter_member_id is not None:
            described = seal(reporter_member_id, "description", described)
            if place is not None:
                place["address"] = seal(reporter_member_id, "address", place["address"])
        return cls(
            category=category,
            description=described,
            grid=grid,
            community=community,
            source=parse(Source, source, "source").value,
            priority=chosen.value,
            location=place,
            reporter_member_id=reporter_member_id,
            reported_at=now,
            respond_due_at=now + policy.response,
            resolve_due_at=now + policy.resolution_for(category, chosen.value),
        )

    @event("Reported")
    def __init__(
        self,
        category: str,
        description: Any,
        grid: str,
        community: str,
        source: str,
        priority: str,
        location: dict[str, Any] | None,
        reporter_member_id: UUID | None,
        reported_at: datetime,
        respond_due_at: datetime,
        resolve_due_at: datetime,
    ) -> None:
        self.status = Status.REPORTED.value
        self.category = category
        self.description = description
        self.grid = grid
        self.community = community
        self.source = source
        self.priority = priority
        self.location = location
        self.reporter_member_id = reporter_member_id
        self.reported_at = reported_at
        self.respond_due_at = respond_due_at
        self.resolve_due_at = resolve_due_at
        self.level: str | None = None
        self.assignee: str | None = None
        self.dispatched_at: datetime | None = None
        self.responded_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.resolution: str | None = None
        self.satisfaction: str | None = None
        self.rating_comment: str | None = None
        self.rejection_reason: str | None = None
        self.duplicate_of: UUID | None = None
        self.response_overdue = False
        self.resolution_overdue = False
        self.resolution_overdue_count = 0
        self.escalations: list[dict[str, Any]] = []
        self.supervisions: list[dict[str, Any]] = []
        self.visits: list[dict[str, Any]] = []
        self.reopen_count = 0

    def accept(self) -> None:
        self._require("accept")
        self._accepted()

    def reject(self, reason: str, duplicate_of: UUID | None = None) -> None:
        chosen = parse(RejectionReason, reason, "reason")
        if chosen is RejectionReason.DUPLICATE and duplicate_of is None:
            raise DuplicateOfError("a duplicate must name the ticket it duplicates")
        if chosen is RejectionReason.INVALID and duplicate_of is not None:
            raise DuplicateOfError("an invalid report names no ticket it duplicates")
        if duplicate_of == self.id:
            raise DuplicateOfError("a ticket cannot be a duplicate of itself")
        self._require("reject")
        self._rejected(reason=chosen.value, duplicate_of=duplicate_of)

    def dispatch(self, level: str, assignee: str) -> None:
        chosen = parse(Level, level, "level")
        assignee = text(assignee, "assignee")
        self._require("dispatch")
        if self.level is not None and chosen.rank < Level(self.level).rank:
            raise DispatchLevelError(
                f"the ticket was escalated to {self.level}; it cannot be dispatched at {chosen}"
            )
        self._dispatched(level=chosen.value, assignee=assignee, at=_now())

    def respond(self, note: str) -> None:
        note = text(note, "note")
        self._require("respond")
        if self._missed_response_refusal() is None:
            self._response_overdue(due_at=self.respond_due_at)
        self._responded(note=note, at=_now())

    def escalate(self, to_level: str, reason: str) -> None:
        chosen = parse(Level, to_level, "to_level")
        reason = text(reason, "reason")
        self._require("escalate")
        level = Level(str(self.level))
        if chosen.rank <= level.rank:
            raise EscalationLevelError(
                f"a ticket at {level} can only be escalated above it, not to {chosen}"
            )
        self._escalated(from_level=level.value, to_level=chosen.value, reason=reason, at=_now())

    def supervise(self, note: str) -> None:
        note = text(note, "note")
        self._require("supervise")
        self._supervised(note=note, at=_now())

    def resolve(self, resolution: str) -> None:
        resolution = text(resolution, "resolution")
        self._require("resolve")
        if self._missed_resolution_refusal() is None:
            self._resolution_overdue(due_at=self.resolve_due_at)
        self._resolved(resolution=resolution, at=_now())

    def rate(self, satisfaction: str, comment: str | None = None, seal: Sealer = plain) -> None:
        chosen = parse(Satisfaction, satisfaction, "satisfaction")
        self._require("rate")
        reporter = self.reporter_member_id
        if reporter is not None and not current().actor.is_member(reporter):
            raise RatedByReporterError("only the member who reported the ticket may rate it")
        if self.satisfaction is not None:
            raise AlreadyRatedError("this resolution has already been rated")
        if comment is not None and reporter is not None:
            comment = seal(reporter, "rating_comment", comment)
        self._rated(satisfaction=chosen.value, comment=comment)

    def visit(self, note: str) -> None:
        note = text(note, "note")
        self._require("visit")
        self._visited(note=note, at=_now())

    def close(self) -> None:
        self._require("close")
        self._closed(at=_now())

    def reopen(self, reason: str, policy: TicketPolicy = DEFAULT_POLICY) -> None:
        reason = text(reason, "reason")
        self._require("reopen")
        window = policy.resolution_for(self.category, self.priority)
        self._reopened(reason=reason, resolve_due_at=_now() + window)

    def record_response_overdue(self) -> None:
        refusal = self._missed_response_refusal()
        if refusal is not None:
            raise ResponseNotOverdueError(f"no missed response to record: {refusal}")
        self._response_overdue(due_at=self.respond_due_at)

    def record_resolution_overdue(self) -> None:
        refusal = self._missed_resolution_refusal()
        if refusal is not None:
            raise ResolutionNotOverdueError(f"no missed resolution to record: {refusal}")
        self._resolution_overdue(due_at=self.resolve_due_at)

    def _require(self, action: str) -> None:
        if self.status not in ALLOWED_FROM[action]:
            raise InvalidTransitionError("ticket", action, self.status)

    def _missed_response_refusal(self) -> str | None:
        return why_not_overdue(
            status=self.status,
            met=self.responded_at is not None,
            recorded=self.response_overdue,
            due_at=self.respond_due_at,
            now=_now(),
            what="response",
        )

    def _missed_resolution_refusal(self) -> str | None:
        return why_not_overdue(
            status=self.status,
            met=self.resolved_at is not None,
            recorded=self.resolution_overdue,
            due_at=self.resolve_due_at,
            now=_now(),
            what="resolution",
        )

    @event("Accepted")
    def _accepted(self) -> None:
        self.status = Status.ACCEPTED.value

    @event("Rejected")
    def _rejected(self, reason: str, duplicate_of: UUID | None) -> None:
        self.status = Status.REJECTED.value
        self.rejection_reason = reason
        self.duplicate_of = duplicate_of

    @event("Dispatched")
    def _dispatched(self, level: str, assignee: str, at: datetime) -> None:
        self.status = Status.DISPATCHED.value
        self.level = level
        self.assignee = assignee
        self.dispatched_at = at

    @event("Responded")
    def _responded(self, note: str, at: datetime) -> None:
        self.status = Status.RESPONDED.value
        if self.responded_at is None:
            self.responded_at = at

    @event("Escalated")
    def _escalated(self, from_level: str, to_level: str, reason: str, at: datetime) -> None:
        self.status = Status.ACCEPTED.value
        self.level = to_level
        self.assignee = None
        self.escalations.append(
            {"from_level": from_level, "to_level": to_level, "reason": reason, "at": at}
        )

    @event("Supervised")
    def _supervised(self, note: str, at: datetime) -> None:
        self.supervisions.append({"note": note, "at": at})

    @event("Resolved")
    def _resolved(self, resolution: str, at: datetime) -> None:
        self.status = Status.RESOLVED.value
        self.resolution = resolution
        self.resolved_at = at

    @event("Rated")
    def _rated(self, satisfaction: str, comment: Any) -> None:
        self.satisfaction = satisfaction
        self.rating_comment = comment

    @event("Visited")
    def _visited(self, note: str, at: datetime) -> None:
        self.visits.append({"note": note, "at": at})

    @event("Closed")
    def _closed(self, at: datetime) -> None:
        self.status = Status.CLOSED.value
        self.closed_at = at

    @event("Reopened")
    def _reopened(self, reason: str, resolve_due_at: datetime) -> None:
        self.status = Status.DISPATCHED.value
        self.resolve_due_at = resolve_due_at
        self.resolution = None
        self.resolved_at = None
        self.closed_at = None
        self.satisfaction = None
        self.rating_comment = None
        self.resolution_overdue = False
        self.reopen_count += 1

    @event("ResponseOverdue")
    def _response_overdue(self, due_at: datetime) -> None:
        self.response_overdue = True

    @event("ResolutionOverdue")
    def _resolution_overdue(self, due_at: datetime) -> None:
        self.resolution_overdue = True
        self.resolution_overdue_count += 1


def _now() -> datetime:
    return current().now
