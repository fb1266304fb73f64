"""The deadline watcher: records missed response and resolution deadlines and lapsed
pledges as events, so that replays never depend on "now".

Idempotent by construction: each command refuses when its fact is already recorded
(or the deadline was met meanwhile), so two watchers, or one run twice, record each
fact exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from uuid import UUID

import psycopg
from eventsourcing.persistence import PersistenceError as EventSourcingError

from domain.application import Governance
from domain.commands.base import Meta
from domain.context import SYSTEM
from domain.errors import DomainError, RuleViolationError
from projections.deadlines.index import PLEDGE_DUE, RESOLUTION, RESPONSE, DeadlineIndex

log = logging.getLogger(__name__)

FOLLOW_SECONDS = 1.0
"""How often the deadline index catches up with the log between rounds."""


@dataclass
class WatchReport:
    recorded: dict[str, int] = field(default_factory=dict)
    refused: int = 0

    @property
    def total(self) -> int:
        return sum(self.recorded.values())


class DeadlineWatcher:
    def __init__(self, governance: Governance, index: DeadlineIndex) -> None:
        self.governance = governance
        self.index = index
        self.meta = Meta(actor=SYSTEM)
        self.stopping = threading.Event()

    def run_once(self) -> WatchReport:
        """Record every deadline that has fallen due; answer what was recorded."""
        report = WatchReport()
        seen: set[tuple[UUID, str]] = set()
        while True:
            self.index.catch_up()
            due = [d for d in self.index.fallen_due(self.governance.clock()) if d not in seen]
            if not due:
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
