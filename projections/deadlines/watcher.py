"""The deadline watcher: records missed response and resolution deadlines and lapsed
pledges as events, so that replays never depend on "now"; and, with a retention period
set, erases the personal data of members inactive for longer (each its own
`Member.Erased`, legal basis `RETENTION_BASIS`).

Idempotent by construction: each command refuses when its fact is already recorded
(or the deadline was met meanwhile), so two watchers, or one run twice, record each
fact exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import psycopg
from eventsourcing.persistence import PersistenceError as EventSourcingError

from domain.application import Governance
from domain.commands.base import Meta
from domain.context import SYSTEM
from domain.errors import DomainError, RuleViolationError
from projections.deadlines.index import PLEDGE_DUE, RESOLUTION, RESPONSE, DeadlineIndex
from projections.engine import tracking
from projections.store.events import max_position

log = logging.getLogger(__name__)

FOLLOW_SECONDS = 1.0
"""How often the deadline index catches up with the log between rounds."""
RETENTION = "retention_erasure"
RETENTION_BASIS = "retention: no activity for {days} days (PIPL Art. 47(1)2)"
RETENTION_PAGE = 500
RETENTION_WAIT = 5.0
"""Seconds a round waits for the members table to reach the log before it erases."""
MEMBERS = "members"
INACTIVE = (
    "SELECT id FROM members WHERE erased_at IS NULL AND last_active_at < %s"
    " ORDER BY last_active_at, id LIMIT %s"
)


@dataclass
class WatchReport:
    recorded: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    retention_held_back: bool = False
    """Whether retention erasures waited for a members table not caught up."""

    @property
    def total(self) -> int:
        return sum(self.recorded.values())


class DeadlineWatcher:
    def __init__(
        self,
        governance: Governance,
        index: DeadlineIndex,
        retention_days: int | None = None,
        retention_wait: float = RETENTION_WAIT,
    ) -> None:
        """`retention_days`: erase members with no activity for that long (None: never);
        `retention_wait`: how long a round waits for the members table (see `_retain`)."""
        self.governance = governance
        self.index = index
        self.retention_days = retention_days
        self.retention_wait = retention_wait
        self.meta = Meta(actor=SYSTEM)
        self.stopping = threading.Event()

    def run_once(self) -> WatchReport:
        """Record every deadline that has fallen due; answer what was recorded."""
        report = WatchReport()
        seen: set[tuple[UUID, str]] = set()
        head = self._head() if self.retention_days is not None else 0
        while True:
            self.index.catch_up()
            due = [d for d in self.index.fallen_due(self.governance.clock()) if d not in seen]
            if not due:
                self._retain(report, head)
                return report
            for aggregate_id, kind in due:
                seen.add((aggregate_id, kind))
                if self._record(aggregate_id, kind):
                    report.recorded[kind] = report.recorded.get(kind, 0) + 1
                else:
                    report.refused += 1

    def _record(self, aggregate_id: UUID, kind: str) -> bool:
        commands = {
            RESPONSE: self.governance.record_response_overdue,
            RESOLUTION: self.governance.record_resolution_overdue,
            PLEDGE_DUE: self.governance.lapse_pledge,
        }
        try:
            commands[kind](self.meta, aggregate_id)
        except RuleViolationError as refused:
            log.info("%s %s not recorded: %s", kind, aggregate_id, refused)
            return False
        return True

    def _head(self) -> int:
        with psycopg.connect(self.index.url, autocommit=True) as conn:
            return max_position(conn)

    def _retain(self, report: WatchReport, head: int) -> None:
        """Erase the members whose last activity (in the members table) is older than
        the retention period; one erasure each, so one refusal stops none of the rest.
        Only once the members table has applied the log as it stood when the round
        began (`head`): a table that lags, or has failed, would show an active member
        as inactive, and an erasure cannot be undone. Else nothing is erased this round."""
        if self.retention_days is None:
            return
        before = self.governance.clock() - timedelta(days=self.retention_days)
        basis = RETENTION_BASIS.format(days=self.retention_days)
        with psycopg.connect(self.index.url, autocommit=True) as conn:
            if not tracking.wait_for(conn, [MEMBERS], head, self.retention_wait, poll=0.05):
                at = tracking.reached(conn, [MEMBERS])
                log.warning(
                    "retention erasures held back: the members table stands at %s, the log"
                    " at %s (behind, failed or not built)",
                    at,
                    head,
                )
                report.retention_held_back = True
                return
            due = [r[0] for r in conn.execute(INACTIVE, (before, RETENTION_PAGE))]
        for member_id in due:
            try:
                self.governance.erase_member(self.meta, member_id, legal_basis=basis)
            except RuleViolationError as refused:  # erased meanwhile
                log.info("retention erasure of %s not recorded: %s", member_id, refused)
                report.refused += 1
                continue
            report.recorded[RETENTION] = report.recorded.get(RETENTION, 0) + 1

    def stop(self) -> None:
        self.stopping.set()

    def run_forever(self, interval: float = 30.0, follow: float = FOLLOW_SECONDS) -> None:
        """Run a round every `interval` seconds until `stop()`; between rounds, bring the
        deadline index up to date every `follow` seconds, so that a round never meets
        `interval` seconds' worth of new events at once (a burst that, in the API's
        process, would hold up the requests in flight). A failed round is logged and
        retried."""
        next_round = time.monotonic()
        try:
            while not self.stopping.is_set():
                if time.monotonic() >= next_round:
                    next_round = time.monotonic() + interval
                    try:
                        report = self.run_once()
                        if report.total:
                            log.info("recorded %s", report.recorded)
                    except (DomainError, psycopg.Error, EventSourcingError) as error:
                        log.warning("deadline round failed, retrying in %ss: %s", interval, error)
                else:
                    try:
                        self.index.catch_up()
                    except (psycopg.Error, EventSourcingError) as error:
                        log.warning("deadline index could not catch up, retrying: %s", error)
                self.stopping.wait(min(follow, max(0.0, next_round - time.monotonic())))
        finally:
            self.index.close()
