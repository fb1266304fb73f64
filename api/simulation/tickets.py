"""Tickets: reported, accepted or rejected, dispatched, answered, resolved, rated,
visited, closed, reopened."""

from __future__ import annotations

import math
from datetime import timedelta

from api.simulation.core import Stream
from api.simulation.data import CATEGORIES, DEPARTMENTS, LEVELS
from api.simulation.model import Grid, SimTicket, next_tick, weighted, weighted_row
from domain.commands.base import Meta
from domain.context import Actor


class TicketStream(Stream):
    """Tickets: the simulation's stream of them."""

    def _report(self, grid: Grid) -> None:
        rng = self.rng
        now = self.clock()
        grid.open_tickets = [
            t for t in grid.open_tickets if now - t.respond_due < timedelta(days=2)
        ]
        duplicate = bool(grid.open_tickets) and self._rare("duplicate", 0.04)
        if duplicate:
            original = rng.choice(grid.open_tickets)
            category = original.category
        else:
            category = weighted_row(rng, CATEGORIES)[0]
        row = next(c for c in CATEGORIES if c[0] == category)
        priority = "urgent" if rng.random() < row[2] else "normal"
        source = weighted(rng, [("grid_worker", 55), ("resident", 30), ("hotline", 15)])
        reporter: str | None = None
        meta = grid.worker or grid.community.staff[0]
        if source == "resident" and grid.residents:
            reporter = rng.choice(grid.residents)
            meta = Meta(actor=Actor(reporter, "resident"))
        elif source == "hotline":
            meta = self.hotline
            if grid.residents and rng.random() < 0.3:
                reporter = rng.choice(grid.residents)
        description = rng.choice(row[3])
        result = self._do(
            "report_ticket", meta, category=category, description=description, grid=grid.code,
            source=source, priority=priority, reporter_member_id=reporter,
            location={"address": f"{grid.name}{rng.randint(1, 12)}号楼",
                      "lat": 39.93 + rng.uniform(-0.05, 0.05),
                      "lon": 119.60 + rng.uniform(-0.05, 0.05)},
        )  # fmt: skip
        if result is None:
            return
        self.report.sizes["tickets"] += 1
        policy = self.gov.ticket_policy
        ticket = SimTicket(
            id=str(result.id), grid=grid, category=category, priority=priority,
            reporter=reporter, source=source, respond_due=now + policy.response,
            resolve_due=now + policy.resolution_for(category, priority),
        )  # fmt: skip
        staff = grid.community.staff[0]
        if duplicate:
            self._at(self._after(rng.uniform(10, 40)), self._reject, ticket, staff, original.id)
        elif self._rare("invalid", 0.02):
            self._at(self._after(rng.uniform(10, 40)), self._reject, ticket, staff, None)
        else:
            grid.open_tickets.append(ticket)
            self._at(self._after(rng.uniform(3, 20)), self._accept, ticket, staff)

    def _reject(self, ticket: SimTicket, staff: Meta, original: str | None) -> None:
        reason = "duplicate" if original else "invalid"
        self._do("reject_ticket", staff, ticket.id, reason=reason, duplicate_of=original)

    def _accept(self, ticket: SimTicket, staff: Meta) -> None:
        if not self._do("accept_ticket", staff, ticket.id):
            return
        rng = self.rng
        ticket.level = weighted(
            rng, [("grid", 70), ("community", 20), ("street", 7), ("department", 3)]
        )
        ticket.escalate = ticket.level != "department" and self._rare("escalate", 0.06)
        ticket.supervise = self._rare("supervise", 0.05)
        self._at(self._after(rng.uniform(2, 15)), self._dispatch, ticket)

    def _handler(self, ticket: SimTicket) -> tuple[Meta, str]:
        """Who handles a ticket at its level, and the assignee's name."""
        grid = ticket.grid
        if ticket.level == "grid" and grid.worker is not None:
            return grid.worker, f"网格员 {grid.name}"
        if ticket.level in ("grid", "community"):
            return grid.community.staff[1], f"{grid.community.name}居委会"
        if ticket.level == "street":
            return grid.community.street.staff, f"{grid.community.street.name}综合执法队"
        name = DEPARTMENTS[[c[0] for c in CATEGORIES].index(ticket.category) % len(DEPARTMENTS)]
        return Meta(actor=Actor(f"dept:{name}", "department_staff")), name

    def _dispatch(self, ticket: SimTicket) -> None:
        rng = self.rng
        _, assignee = self._handler(ticket)
        staff = ticket.grid.community.staff[0]
        if not self._do("dispatch_ticket", staff, ticket.id, level=ticket.level, assignee=assignee):
            return
        if not ticket.responded and self._rare("late_response", 0.06):
            # Answered late: the watcher records the missed hour when it passes.
            late = rng.uniform(65, 240)
            respond_at = self.clock() + timedelta(minutes=late)
            watch_at = next_tick(ticket.respond_due)
            if watch_at < respond_at:
                self._at(watch_at, self._response_overdue, ticket)
            self._at(respond_at, self._respond, ticket)
        else:
            self._at(self._after(rng.uniform(5, 30)), self._respond, ticket)

    def _respond(self, ticket: SimTicket) -> None:
        meta, _ = self._handler(ticket)
        if not self._do("respond_ticket", meta, ticket.id, note="已联系报告人,正在处置"):
            return
        ticket.responded = True
        rng = self.rng
        if ticket.escalate:
            ticket.escalate = False
            self._at(self._after(rng.uniform(60, 360)), self._escalate, ticket)
            return
        window = ticket.resolve_due - self.clock()
        late = ticket.rounds == 0 and self._rare("late_resolution", 0.07)
        if late:
            resolve_at = ticket.resolve_due + timedelta(hours=rng.uniform(1, 48))
            ticket.overdue_resolution = True
            self._at(next_tick(ticket.resolve_due), self._resolution_overdue, ticket)
        else:
            hours = min(rng.lognormvariate(math.log(6), 0.9), window.total_seconds() / 3600 * 0.95)
            resolve_at = self._after(max(10.0, hours * 60))
        if ticket.supervise:
            ticket.supervise = False
            middle = self.clock() + (resolve_at - self.clock()) / 2
            self._at(middle, self._supervise, ticket)
        self._at(resolve_at, self._resolve, ticket)

    def _response_overdue(self, ticket: SimTicket) -> None:
        self._do("record_response_overdue", self.watcher, ticket.id)

    def _resolution_overdue(self, ticket: SimTicket) -> None:
        self._do("record_resolution_overdue", self.watcher, ticket.id)

    def _escalate(self, ticket: SimTicket) -> None:
        meta, _ = self._handler(ticket)
        to_level = LEVELS[LEVELS.index(ticket.level) + 1]
        reason = "需要上级协调多部门处置" if to_level != "department" else "街道吹哨,部门报到"
        if self._do("escalate_ticket", meta, ticket.id, to_level=to_level, reason=reason):
            ticket.level = to_level
            self._at(self._after(self.rng.uniform(10, 60)), self._dispatch, ticket)

    def _supervise(self, ticket: SimTicket) -> None:
        self._do(
            "supervise_ticket", ticket.grid.community.street.staff, ticket.id, note="督办: 限时办结"
        )

    def _resolve(self, ticket: SimTicket) -> None:
        meta, _ = self._handler(ticket)
        if not self._do("resolve_ticket", meta, ticket.id, resolution="已处置完毕,现场恢复"):
            return
        if ticket.reporter is not None:
            ticket.grid.community.accounts[ticket.reporter] = None
        if ticket in ticket.grid.open_tickets:
            ticket.grid.open_tickets.remove(ticket)
        rng = self.rng
        if (ticket.reporter is not None and rng.random() < 0.85) or (
            ticket.source == "hotline" and rng.random() < 0.45
        ):
            self._at(self._after(rng.uniform(60, 24 * 60)), self._rate, ticket)
        else:
            self._after_rating(ticket)

    def _rate(self, ticket: SimTicket) -> None:
        rng = self.rng
        if ticket.overdue_resolution or ticket.rounds > 0:
            weights = [("satisfied", 55), ("basically_satisfied", 30), ("dissatisfied", 15)]
        else:
            weights = [("satisfied", 82), ("basically_satisfied", 13), ("dissatisfied", 5)]
        satisfaction = weighted(rng, weights)
        if ticket.rounds == 0 and self._rare("dissatisfied", 0.0):
            satisfaction = "dissatisfied"
        if ticket.rounds > 0 and satisfaction == "dissatisfied":
            satisfaction = "basically_satisfied"
        meta = self.hotline
        if ticket.reporter is not None:
            meta = Meta(actor=Actor(ticket.reporter, "resident"))
        comment = {"satisfied": "处理及时", "dissatisfied": "问题没有解决"}.get(satisfaction)
        if not self._do("rate_ticket", meta, ticket.id, satisfaction=satisfaction, comment=comment):
            return
        if satisfaction == "dissatisfied" and rng.random() < 0.8:
            self._at(self._after(rng.uniform(120, 24 * 60)), self._reopen, ticket)
        else:
            self._after_rating(ticket)

    def _after_rating(self, ticket: SimTicket) -> None:
        rng = self.rng
        if rng.random() < 0.6:
            self._at(self._after(rng.uniform(24 * 60, 3 * 24 * 60)), self._visit, ticket)
        elif rng.random() < 0.97:
            self._at(self._after(rng.uniform(12 * 60, 3 * 24 * 60)), self._close, ticket)

    def _visit(self, ticket: SimTicket) -> None:
        meta = ticket.grid.worker or ticket.grid.community.staff[1]
        if self._do("visit_ticket", meta, ticket.id, note="回访: 居民认可处置结果"):
            self._at(self._after(self.rng.uniform(60, 2 * 24 * 60)), self._close, ticket)

    def _close(self, ticket: SimTicket) -> None:
        if self._do("close_ticket", ticket.grid.community.staff[0], ticket.id) and self._rare(
            "reopen_closed", 0.01
        ):
            self._at(self._after(self.rng.uniform(2 * 24 * 60, 7 * 24 * 60)), self._reopen, ticket)

    def _reopen(self, ticket: SimTicket) -> None:
        staff = ticket.grid.community.staff[0]
        if not self._do("reopen_ticket", staff, ticket.id, reason="问题反复,重新办理"):
            return
        ticket.rounds += 1
        ticket.overdue_resolution = False
        policy = self.gov.ticket_policy
        ticket.resolve_due = self.clock() + policy.resolution_for(ticket.category, ticket.priority)
        self._at(self._after(self.rng.uniform(10, 120)), self._respond, ticket)
