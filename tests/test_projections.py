"""Projections made for the engine's tests (importable by a worker subprocess)."""

from __future__ import annotations

import os
import time
from typing import Any

from domain.member import Member
from domain.personal_data import reveal, sealed_kid
from projections.engine.batch import Batch, Projection
from projections.store import keys


def _names_table(base: str) -> dict[str, str]:
    return {
        base: (
            f"CREATE TABLE IF NOT EXISTS {{{base}}}"
            " (member_id uuid PRIMARY KEY, name text NOT NULL, position bigint NOT NULL)"
        )
    }


class MemberNames(Projection):
    """Copies each registered member's name, one row per member."""

    name = "test_names"
    tables = _names_table("test_names")
    event_types = (Member.Registered,)

    def apply(self, batch: Batch) -> None:
        (base,) = self.tables
        batch.executemany(
            f"INSERT INTO {{{base}}} (member_id, name, position) VALUES (%s, %s, %s)",
            clear_names(batch),
        )


def clear_names(batch: Batch) -> list[tuple[Any, str, int]]:
    """(member, name in clear, position) of each registration (names are sealed)."""
    sealed = (sealed_kid(r.event.name) for r in batch.events)
    opened = keys.fetch(batch.cur, (kid for kid in sealed if kid is not None))
    return [
        (r.event.originator_id, reveal(r.event.name, opened, r.event.originator_id, "name"),
         r.position)
        for r in batch.events
    ]  # fmt: skip


class PoisonedNames(MemberNames):
    """Like MemberNames, but cannot apply a member named 'poison'."""

    name = "test_poisoned"
    tables = _names_table("test_poisoned")

    def apply(self, batch: Batch) -> None:
        for _, name, _ in clear_names(batch):
            if name == "poison":
                raise ValueError("this projection cannot apply a member named poison")
        super().apply(batch)


class SlowNames(MemberNames):
    """Like MemberNames, but slow per batch, so a worker can be killed mid-batch."""

    name = "test_slow"
    tables = _names_table("test_slow")

    def apply(self, batch: Batch) -> None:
        super().apply(batch)
        time.sleep(float(os.environ.get("SLOW_BATCH_SECONDS", "0.05")))


class BrokenInDatabase(Projection):
    """Reads no events (works inside the database) and always fails."""

    name = "test_broken_sql"
    reads_events = False
    tables = _names_table("test_broken_sql")

    def apply(self, batch: Batch) -> None:
        batch.cur.execute("SELECT 1 / 0")


class MemberRanges(Projection):
    """Works inside the database on members' registrations: records each range it was
    given (so a test sees which pages it ran on)."""

    name = "test_ranges"
    reads_events = False
    event_types = (Member.Registered,)
    tables = {
        "test_ranges": (
            "CREATE TABLE IF NOT EXISTS {test_ranges} (after bigint PRIMARY KEY, last bigint)"
        )
    }

    def apply(self, batch: Batch) -> None:
        batch.cur.execute(
            batch.sql("INSERT INTO {test_ranges} (after, last) VALUES (%s, %s)"),
            (batch.after, batch.last),
        )


class Interrupted(BaseException):
    """Stops a page the way a kill would: no projection's work of it commits."""


class TimesOut(MemberNames):
    """Like MemberNames, but its next `failures` pages each run into a statement timeout
    (an operational error, not the events' fault)."""

    name = "test_times_out"
    tables = _names_table("test_times_out")

    def __init__(self) -> None:
        self.failures = 0

    def apply(self, batch: Batch) -> None:
        if self.failures:
            self.failures -= 1
            batch.cur.execute("SET LOCAL statement_timeout = 1")
            batch.cur.execute("SELECT pg_sleep(1)")
        super().apply(batch)


class InterruptOnce(MemberNames):
    """Like MemberNames, but once `armed`, interrupts the next page it is given."""

    name = "test_interrupt"
    tables = _names_table("test_interrupt")

    def __init__(self) -> None:
        self.armed = False

    def apply(self, batch: Batch) -> None:
        if self.armed:
            self.armed = False
            raise Interrupted
        super().apply(batch)
