"""Read-your-writes waits that hold no read connection: one watcher per process.

A query with `min_position` beyond what its projections reached waits on a
`PositionWatch`: an asyncio future, resolved by one thread of the process that, while
anyone waits, reads every projection's position and the log's head on its own
connection every couple of milliseconds (backing off to 20 ms while nothing moves).
A thousand waiters cost that one connection and no worker thread, so they cannot
starve other requests of the read pool (the issue's twelve `wait_ms=30000` requests
did, each holding a pool connection). A position beyond the log's head is answered at
once: nothing was recorded there, so no wait could reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import psycopg

from projections.engine.tracking import positions
from projections.store.events import max_position

log = logging.getLogger(__name__)

APPLICATION_NAME = "gridledger-position-watch"


class Outcome(Enum):
    REACHED = "reached"
    BEYOND_HEAD = "beyond head"
    TIMED_OUT = "timed out"


@dataclass(eq=False)
class _Waiter:
    names: tuple[str, ...]
    position: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[tuple[Outcome, int | None]] = field(repr=False)


class PositionWatch:
    """Waiters for projection positions, served by one thread and one connection."""

    def __init__(
        self, url: str, *, poll: float = 0.002, max_poll: float = 0.02, connect_timeout: int = 5
    ) -> None:
        self.url = url
        self.poll = poll
        self.max_poll = max_poll
        self.connect_timeout = connect_timeout
        self._waiters: set[_Waiter] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def wait(
        self, names: Sequence[str], position: int, timeout: float
    ) -> tuple[Outcome, int | None]:
        """Until every projection of `names` reached `position` (REACHED), it is found
        beyond the log's head (BEYOND_HEAD), or `timeout` seconds passed (TIMED_OUT);
        and the log's head as last read (None on a time-out)."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(tuple(names), position, loop, loop.create_future())
        with self._lock:
            self._waiters.add(waiter)
            self._start()
        self._wake.set()
        try:
            return await asyncio.wait_for(waiter.future, timeout)
        except TimeoutError:
            return Outcome.TIMED_OUT, None
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def _start(self) -> None:
        if self._thread is None and not self._stopping.is_set():
            self._thread = threading.Thread(
                target=self._run, name="gridledger-position-watch", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._conn is not None:
            self._conn.close()

    def _run(self) -> None:
        """While anyone waits, read and serve; every `poll` s while positions move or
        waiters arrive, backing off (doubling, up to `max_poll`) while nothing does."""
        interval, last = self.poll, None
        while not self._stopping.is_set():
            if not self._waiters:
                self._wake.wait(timeout=1)
                self._wake.clear()
                continue
            try:
                read = self._read()
            except Exception as error:  # the one thread every waiter needs: it must live on
                # A lost connection, or anything else: log it, start afresh; the waiters
                # meanwhile time out as they would have (503), never hang.
                log.warning("position watch: %s; reconnecting", error)
                self._drop()
                self._stopping.wait(0.25)
                continue
            self._serve(*read)
            interval = min(interval * 2, self.max_poll) if read == last else self.poll
            last = read
            if self._wake.wait(interval):  # a new waiter: look again at once
                self._wake.clear()
                interval = self.poll

    def _read(self) -> tuple[dict[str, int], int]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=self.connect_timeout,
                application_name=APPLICATION_NAME,
            )
        return positions(self._conn), max_position(self._conn)

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _serve(self, positions: dict[str, int], head: int) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            if waiter.position > head:
                self._resolve(waiter, Outcome.BEYOND_HEAD, head)
                continue
            reached = [positions.get(name) for name in waiter.names]
            if all(at is not None and at >= waiter.position for at in reached):
                self._resolve(waiter, Outcome.REACHED, head)

    def _resolve(self, waiter: _Waiter, outcome: Outcome, head: int) -> None:
        with self._lock:
            if waiter not in self._waiters:
                return
            self._waiters.discard(waiter)

        def settle() -> None:
            if not waiter.future.done():
                waiter.future.set_result((outcome, head))

        with contextlib.suppress(RuntimeError):  # the waiter's loop has closed
            waiter.loop.call_soon_threadsafe(settle)
