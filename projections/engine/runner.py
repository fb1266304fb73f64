"""The batched, exactly-once projection runner.

It reads the event store a page at a time: a range of positions (up to `batch_size`
of them) below the log's head, fetching only the events of the topics its projections
handle (none at all for a projection that works inside the database), decodes each
event once, and hands every projection the events it handles. Each page is one
transaction: every projection's rows and its position commit together, so a crash or
kill loses nothing and applies nothing twice; on restart each projection resumes after
its own position. Reading by position is safe against late commits because the
library serialises event inserts with a table lock, so positions become visible in
order: once the head is visible, every position below it is committed (or was rolled
back and never will be).

A page is first applied optimistically, every projection straight into the page's
transaction. If one of them fails, the whole page is rolled back and applied again
carefully, each projection inside a savepoint: a projection that fails on an event (a
poison event) is found out event by event, the events before it are kept, its
generation is marked `failed` with the position, topic and error, and it stops there;
the other projections go on. An operational error (a lost connection, a statement
timeout, a deadlock) is the moment's fault, not the event's: it is raised, the page is
rolled back, and the caller reads it again later (`gridledger project` and the API's
workers retry after a second). (Savepoints cost two round trips a projection, most of a
live page's cost, for a failure that almost never happens.)

When the log is drained the runner waits on the library's NOTIFY channel, so a new
commit wakes it at once.

A live page (a few events) costs a round trip only for the projections with work in
it: one that handles none of its events is not called, and every projection's new
position is written in one statement. Pages commit with `synchronous_commit` off: a
crash of the database server may lose the last pages' commits, each page's rows with
its position, and the runner applies them again (the events themselves were committed
durably by the write side), so nothing is lost or applied twice; meanwhile no page
waits for its WAL to reach the disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from eventsourcing.persistence import Mapper, PersistenceError
from psycopg import sql

from projections.engine import tracking
from projections.engine.batch import Batch, Projection, Recorded
from projections.engine.decoding import StoredRow, fast_mapper
from projections.store.events import EVENTS, max_position
from projections.store.keys import KeyUnavailableError
from projections.store.rendering import rendered

log = logging.getLogger(__name__)

WHOLE_PAGE = 1000
"""A page of at most this many positions (a live one) is read whole: its topics tell
which projections that work inside the database have nothing to do."""
APPLIED, ISOLATED, FAILED = "applied", "isolated", "failed"


def _on_events(template: str, *parts: str) -> sql.SQL:
    """A statement on the events table (`{0}`) with `parts` as `{1}`, `{2}`..., rendered."""
    return rendered(sql.SQL(template).format(EVENTS, *map(sql.SQL, parts)))


_READ = (
    "SELECT notification_id, originator_id, originator_version, topic, {1} FROM {0}"
    " WHERE notification_id > %(after)s AND notification_id <= %(last)s{2}"
    " ORDER BY notification_id"
)
READ_ALL = _on_events(_READ, "state", "")
"""A page's events, every topic."""
READ_TOPICS = _on_events(_READ, "state", " AND topic = ANY(%(topics)s)")
"""A page's events of the topics wanted."""
READ_WHOLE = _on_events(_READ, "CASE WHEN topic = ANY(%(topics)s) THEN state END", "")
"""Every event of a page, the state only of the topics wanted (the others only tell
which topics the page holds)."""
RETRY_SECONDS = 1.0
"""How long `Runner.follow` waits after an operational error before following again."""
GATHER_SECONDS = 0.02
"""The least time between the starts of two live pages (see `Runner.run_forever`)."""


@dataclass
class Target:
    """A projection and the generation it writes: None follows the current one."""

    projection: Projection
    generation: int | None = None


@dataclass
class PageReport:
    events: int = 0
    """Events fetched: those handed to projections and, on a page read whole, the
    others (read without their state, to learn the page's topics)."""
    last_position: int = 0
    """The end of the page's range: every projection that did not fail stands there."""
    caught_up: bool = True
    """The page reached the log's head as it stood when the page was read."""
    failed: list[str] = field(default_factory=list)


class Runner:
    def __init__(
        self,
        url: str,
        mapper: Mapper[Any],
        targets: Sequence[Target],
        *,
        batch_size: int = 1000,
    ) -> None:
        self.url = url
        self.mapper = fast_mapper(mapper)
        self.targets = list(targets)
        self.batch_size = batch_size
        self.stopping = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self.url)
            # A session setting, made after connecting so that the URL's own options
            # stand (the runner LISTENs, so it needs a session of its own anyway).
            try:
                conn.execute("SET synchronous_commit TO off")
                conn.commit()
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def prepare(self) -> None:
        """Give every followed projection a generation (the first run creates its tables)."""
        with self.conn.transaction():
            for target in self.targets:
                if target.generation is None:
                    tracking.ensure(self.conn, target.projection)

    def run_until_caught_up(
        self, progress: Callable[[int], None] | None = None, until: int | None = None
    ) -> int:
        """Apply pages until the log is drained (or, given `until`, until every
        projection stands at that position and no further); answer the number of
        events read."""
        self.prepare()
        total = 0
        while not self.stopping.is_set():
            report = self.run_page(until)
            total += report.events
            if progress is not None and report.last_position:
                progress(report.last_position)
            if report.caught_up:
                return total
        return total

    def run_forever(self, idle_wait: float = 1.0, gather: float = GATHER_SECONDS) -> None:
        """Follow the log until `stop()`; wake on each commit's NOTIFY. A page that
        follows a caught-up one starts at least `gather` seconds after it: the first
        commit after a quiet spell is applied at once, and under load pages grow instead
        of multiplying, so the projections' CPU per command falls as commands come
        faster. A backlog is read page after page, with no wait."""
        self.prepare()
        with psycopg.connect(self.url, autocommit=True) as listener:
            listener.execute(sql.SQL("LISTEN {}").format(EVENTS))
            started, caught_up = -gather, True
            while not self.stopping.is_set():
                early = started + gather - time.monotonic()
                if caught_up and early > 0:
                    self.stopping.wait(early)
                started = time.monotonic()
                report = self.run_page()
                caught_up = report.caught_up
                if caught_up:
                    for _ in listener.notifies(timeout=idle_wait, stop_after=1):
                        pass

    def follow(self, idle_wait: float = 1.0, retry: float = RETRY_SECONDS) -> None:
        """`run_forever` until `stop()`, through database outages and operational errors
        (a lost connection, a statement timeout): each is logged, the connection dropped,
        and the log followed again `retry` seconds later, from the positions committed."""
        while not self.stopping.is_set():
            try:
                self.run_forever(idle_wait=idle_wait)
            except (psycopg.Error, PersistenceError) as error:
                log.warning("projections paused, retrying in %ss: %s", retry, error)
                self.close()
                self.stopping.wait(retry)
            except KeyUnavailableError as error:  # fix the configuration and restart
                log.error("projections stopped, configuration error: %s", error)
                self.close()
                self.stopping.wait(retry)

    def stop(self) -> None:
        self.stopping.set()

    def run_page(self, until: int | None = None) -> PageReport:
        """Apply one page; with `until`, read no position beyond it (the log's head
        counts as `until` if the log reaches further). Optimistically first; if a
        projection fails, the page is rolled back and applied again carefully."""
        try:
            return self._run_page(until, careful=False)
        except _RetryCarefullyError as failure:
            log.info("a page is applied again carefully: %s", failure.__cause__)
            return self._run_page(until, careful=True)

    def _run_page(self, until: int | None, careful: bool) -> PageReport:
        conn = self.conn
        with conn.transaction():
            plan = self._lock_targets(conn)
            if not plan:
                return PageReport()
            start = min(position for _, _, position in plan)
            head = max_position(conn)
            if until is not None:
                head = min(head, until)
            if head <= start:
                return PageReport()
            last = min(start + self.batch_size, head)
            whole = last - start <= WHOLE_PAGE
            page = self._read(conn, start, last, self._topics(plan), whole)
            present = {r.topic for r in page} if whole else None
            report = PageReport(events=len(page), last_position=last, caught_up=last == head)
            done = []
            for target, generation, position in plan:
                if last <= position:
                    continue
                outcome = self._apply(conn, target.projection, generation, position, page, last,
                                      present, careful)  # fmt: skip
                if outcome == FAILED:
                    report.failed.append(target.projection.name)
                elif outcome == APPLIED:
                    done.append((target.projection.name, generation))
            self._advance_all(conn, done, last)
        return report

    def _lock_targets(self, conn: psycopg.Connection[Any]) -> list[tuple[Target, int, int]]:
        """Lock the state row of each target's generation (one query, in a fixed order);
        answer (target, generation, position) for those that may go on."""
        follow = [t.projection.name for t in self.targets if t.generation is None]
        pinned = [t for t in self.targets if t.generation is not None]
        rows = conn.execute(
            "SELECT name, generation, status, position FROM projection_state"
            " WHERE (status = 'active' AND name = ANY(%s))"
            " OR (status IN ('active', 'building') AND (name, generation) IN"
            " (SELECT * FROM unnest(%s::text[], %s::int[])))"
            " ORDER BY name, generation FOR UPDATE",
            (
                follow,
                [t.projection.name for t in pinned],
                [t.generation for t in pinned],
            ),
        ).fetchall()
        active = {name: (generation, position) for name, generation, status, position in rows
                  if status == "active"}  # fmt: skip
        positions = {(name, generation): position for name, generation, _, position in rows}
        plan = []
        for target in self.targets:
            name = target.projection.name
            if target.generation is None:
                if name in active:
                    plan.append((target, *active[name]))
            elif (name, target.generation) in positions:
                position = positions[(name, target.generation)]
                plan.append((target, target.generation, position))
        return plan

    def _topics(self, plan: list[tuple[Target, int, int]]) -> list[str] | None:
        """The topics the page must fetch for these projections (None: every topic)."""
        wanted: set[str] = set()
        for target, _, _ in plan:
            topics = target.projection.topics()
            if topics is None:
                return None
            wanted |= topics
        return sorted(wanted)

    def _read(
        self,
        conn: psycopg.Connection[Any],
        after: int,
        last: int,
        topics: list[str] | None,
        whole: bool,
    ) -> list[Recorded]:
        """The page's events of `topics` (None: every topic); `whole`: every event of
        the page, those of other topics without their state (never handed to a
        projection: they only tell which topics the page holds)."""
        if topics == [] and not whole:
            return []
        query = READ_ALL if topics is None else READ_WHOLE if whole else READ_TOPICS
        rows = conn.execute(query, {"after": after, "last": last, "topics": topics}).fetchall()
        mapper = self.mapper
        return [Recorded(StoredRow(*row), mapper) for row in rows]

    def _apply(
        self,
        conn: psycopg.Connection[Any],
        projection: Projection,
        generation: int,
        position: int,
        page: list[Recorded],
        last: int,
        present: set[str] | None,
        careful: bool,
    ) -> str:
        """Apply the page's events to one projection that stands before `last`: answer
        APPLIED (its position is to advance to `last`), FAILED (it stopped at a poison
        event) or ISOLATED (its events were applied one by one and it advanced).
        `present`: every topic in the page, if known; a projection none of whose events
        is in the page has nothing to do (no round trip), beyond advancing. Not
        `careful`: no savepoint, and a failure raises `_RetryCarefullyError` (the page's
        transaction is then to be rolled back)."""
        handled = projection.handled()
        if projection.reads_events:
            events = [
                r for r in page
                if r.position > position and (handled is None or r.topic in handled)
            ]  # fmt: skip
            if not events:
                return APPLIED
        else:
            events = []
            if present is not None and handled is not None and handled.isdisjoint(present):
                return APPLIED
        if not careful:
            try:
                with conn.cursor() as cur:
                    projection.apply(Batch(cur, projection, generation, events, position, last))
            except Exception as error:
                raise _RetryCarefullyError(projection.name) from error
            return APPLIED
        try:
            with conn.transaction(), conn.cursor() as cur:
                projection.apply(Batch(cur, projection, generation, events, position, last))
        except (psycopg.OperationalError, KeyUnavailableError):
            raise  # the moment's fault (a lost connection, a timeout, a deadlock), or the
            # configuration's (no or another master key), never the event's
        except Exception as error:
            if not projection.reads_events:  # no events to isolate: stop at the range
                message = f"{type(error).__name__}: {error} (positions {position + 1} to {last})"
                self._fail(conn, projection.name, generation, position + 1, message)
                return FAILED
            failed = self._isolate(conn, projection, generation, position, events, last)
            return ISOLATED if failed is None else FAILED
        return APPLIED

    def _isolate(
        self,
        conn: psycopg.Connection[Any],
        projection: Projection,
        generation: int,
        position: int,
        events: list[Recorded],
        last: int,
    ) -> Recorded | None:
        for recorded in events:
            try:
                with conn.transaction(), conn.cursor() as cur:
                    batch = Batch(
                        cur,
                        projection,
                        generation,
                        [recorded],
                        recorded.position - 1,
                        recorded.position,
                    )
                    projection.apply(batch)
            except (psycopg.OperationalError, KeyUnavailableError):
                raise  # not the event's fault: the page is rolled back and read again later
            except Exception as error:  # a poison event: record it and stop this projection
                self._advance(conn, projection.name, generation, recorded.position - 1)
                event = recorded.event
                message = (
                    f"{type(error).__name__}: {error} (event {type(event).__qualname__}"
                    f" of {event.originator_id} v{event.originator_version})"
                )
                self._fail(conn, projection.name, generation, recorded.position, message)
                return recorded
        self._advance(conn, projection.name, generation, last)
        return None

    @staticmethod
    def _advance(conn: psycopg.Connection[Any], name: str, generation: int, position: int) -> None:
        conn.execute(
            "UPDATE projection_state SET position = %s, updated_at = now()"
            " WHERE name = %s AND generation = %s",
            (position, name, generation),
        )

    @staticmethod
    def _advance_all(
        conn: psycopg.Connection[Any], generations: list[tuple[str, int]], position: int
    ) -> None:
        """Advance each (name, generation) to `position`, in one statement."""
        if generations:
            conn.execute(
                "UPDATE projection_state SET position = %s, updated_at = now()"
                " WHERE (name, generation) IN (SELECT * FROM unnest(%s::text[], %s::int[]))",
                (position, [n for n, _ in generations], [g for _, g in generations]),
            )

    @staticmethod
    def _fail(
        conn: psycopg.Connection[Any], name: str, generation: int, position: int, message: str
    ) -> None:
        """Stop the generation at `position` (the event it could not apply), saying why."""
        log.error("projection %s stopped at position %s: %s", name, position, message)
        conn.execute(
            "UPDATE projection_state SET status = 'failed', error = %s, error_position = %s,"
            " updated_at = now() WHERE name = %s AND generation = %s",
            (message, position, name, generation),
        )


class _RetryCarefullyError(Exception):
    """A projection failed in an optimistic page: apply the page again carefully."""


def lag(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, int, str]]:
    """Each projection's (position, events behind, status)."""
    head = max_position(conn)
    answer = {}
    for state in tracking.states(conn):
        if state.status in ("active", "failed"):
            answer[state.name] = (state.position, head - state.position, state.status)
    return answer
