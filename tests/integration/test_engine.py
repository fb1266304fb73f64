"""The projection engine: exactly once, in order, resumable, isolated, rebuildable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from domain.application import Governance
from domain.commands.base import Meta
from projections.audit.journal import AuditJournal
from projections.engine import tracking
from projections.engine.rebuild import checksums, rebuild, rebuild_all
from projections.engine.runner import Runner, Target
from tests.test_projections import (
    BrokenInDatabase,
    MemberNames,
    MemberRanges,
    PoisonedNames,
    SlowNames,
    TimesOut,
)
from tests.writeside import max_position

ROOT = Path(__file__).resolve().parents[2]


def register(governance: Governance, admin: Meta, name: str) -> None:
    governance.register_member(
        admin,
        name=name,
        phone="13800138000",
        kind="resident",
        party_member=False,
        home_grid=None,
    )


def before_poison_after(governance: Governance, admin: Meta) -> int:
    """Register three members, the second one PoisonedNames cannot apply; answer its
    position."""
    register(governance, admin, "before")
    register(governance, admin, "poison")
    poisoned_at = max_position(governance)
    register(governance, admin, "after")
    return poisoned_at


def positions(db: psycopg.Connection, table: str) -> list[int]:
    query = sql.SQL("SELECT position FROM {} ORDER BY position").format(sql.Identifier(table))
    return [r[0] for r in db.execute(query)]


def test_a_projection_applies_every_event_once_and_resumes_where_it_stopped(
    governance: Governance, admin: Meta, project, db: psycopg.Connection
) -> None:
    for i in range(5):
        register(governance, admin, f"first{i}")
    project(MemberNames())
    for i in range(7):
        register(governance, admin, f"second{i}")
    project(MemberNames())
    project(MemberNames())
    assert positions(db, "test_names") == list(range(1, 13))
    (state,) = tracking.states(db, ["test_names"])
    assert state.position == max_position(governance)


def test_a_killed_worker_resumes_without_losing_or_repeating_an_event(
    governance: Governance, admin: Meta, database_url: str, db: psycopg.Connection
) -> None:
    for i in range(400):
        register(governance, admin, f"m{i}")
    script = (
        "import sys; from api.runtime.database import library_env;"
        "from domain.application import Governance;"
        "from projections.engine.runner import Runner, Target;"
        "from tests.test_projections import SlowNames;"
        f"g = Governance(env=library_env({database_url!r}));"
        "Runner(sys.argv[1], g.mapper, [Target(SlowNames())], batch_size=10).run_until_caught_up()"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script, database_url],
        cwd=ROOT,
        env={**os.environ, "SLOW_BATCH_SECONDS": "0.05"},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = db.execute(
                "SELECT coalesce(max(position), 0) FROM projection_state WHERE name = 'test_slow'"
            ).fetchone()[0]
            if done >= 50:
                break
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait()
    (state,) = tracking.states(db, ["test_slow"])
    assert 0 < state.position < 400
    assert positions(db, "test_slow") == list(range(1, state.position + 1))
    runner = Runner(database_url, governance.mapper, [Target(SlowNames())], batch_size=100)
    runner.run_until_caught_up()
    runner.close()
    assert positions(db, "test_slow") == list(range(1, 401))


def test_a_tailing_projection_misses_nothing_while_writers_race(
    governance: Governance, admin: Meta, database_url: str, db: psycopg.Connection
) -> None:
    runner = Runner(database_url, governance.mapper, [Target(AuditJournal())], batch_size=50)
    tail = threading.Thread(target=runner.run_forever, kwargs={"idle_wait": 0.05})
    tail.start()

    def write(prefix: str) -> None:
        for i in range(60):
            register(governance, admin, f"{prefix}{i}")

    writers = [threading.Thread(target=write, args=(f"w{n}-",)) for n in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    reached = tracking.wait_for(database_url, ["audit"], max_position(governance), timeout=30)
    runner.stop()
    tail.join()
    runner.close()
    assert reached
    assert positions(db, "audit_journal") == list(range(1, max_position(governance) + 1))


def test_a_poison_event_stops_only_its_projection_and_names_the_event(
    governance: Governance, admin: Meta, project, db: psycopg.Connection
) -> None:
    poisoned_at = before_poison_after(governance, admin)
    project(PoisonedNames(), MemberNames())
    (failed,) = tracking.states(db, ["test_poisoned"])
    assert failed.status == "failed"
    assert failed.error_position == poisoned_at
    assert failed.position == poisoned_at - 1
    assert "Registered" in (failed.error or "") and "poison" in (failed.error or "")
    assert positions(db, "test_poisoned") == [1]
    assert positions(db, "test_names") == [1, 2, 3]
    project(PoisonedNames())
    assert positions(db, "test_poisoned") == [1]


def test_a_page_a_projection_fails_is_rolled_back_whole_and_applied_once_carefully(
    governance: Governance, admin: Meta, project, db: psycopg.Connection
) -> None:
    # The projections before the poisoned one apply the page first, optimistically;
    # its failure rolls their rows back with it, and the careful second pass applies
    # them once, with the poisoned projection's events before the poison.
    poisoned_at = before_poison_after(governance, admin)
    project(AuditJournal(), MemberNames(), PoisonedNames())
    assert positions(db, "audit_journal") == [1, 2, 3]
    assert positions(db, "test_names") == [1, 2, 3]
    assert positions(db, "test_poisoned") == [1]
    states = {s.name: (s.status, s.position) for s in tracking.states(db)}
    assert states["audit"] == ("active", 3)
    assert states["test_names"] == ("active", 3)
    assert states["test_poisoned"] == ("failed", poisoned_at - 1)
    register(governance, admin, "later")
    project(AuditJournal(), MemberNames(), PoisonedNames())
    assert positions(db, "test_names") == [1, 2, 3, 4]
    assert positions(db, "test_poisoned") == [1]


def test_a_timeout_is_not_a_poison_event_the_page_is_read_again_later(
    governance: Governance, admin: Meta, database_url: str, db: psycopg.Connection
) -> None:
    register(governance, admin, "one")
    register(governance, admin, "two")
    times_out = TimesOut()
    runner = Runner(database_url, governance.mapper, [Target(times_out), Target(MemberNames())])
    try:
        runner.prepare()
        times_out.failures = 2  # the optimistic pass and the careful one
        with pytest.raises(psycopg.errors.QueryCanceled):
            runner.run_page()
        states = {s.name: (s.status, s.position) for s in tracking.states(db)}
        assert states == {"test_times_out": ("active", 0), "test_names": ("active", 0)}
        assert positions(db, "test_times_out") == []
        runner.run_until_caught_up()
    finally:
        runner.close()
    assert positions(db, "test_times_out") == [1, 2]
    assert positions(db, "test_names") == [1, 2]


def test_a_following_runner_rides_out_a_timeout_and_goes_on(
    governance: Governance, admin: Meta, database_url: str, db: psycopg.Connection
) -> None:
    times_out = TimesOut()
    runner = Runner(database_url, governance.mapper, [Target(times_out)])
    runner.prepare()
    times_out.failures = 2
    follower = threading.Thread(target=runner.follow, kwargs={"idle_wait": 0.05, "retry": 0.05})
    follower.start()
    try:
        register(governance, admin, "one")
        register(governance, admin, "two")
        reached = tracking.wait_for(
            database_url, ["test_times_out"], max_position(governance), timeout=30
        )
    finally:
        runner.stop()
        follower.join()
        runner.close()
    assert reached
    assert times_out.failures == 0
    assert positions(db, "test_times_out") == [1, 2]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_rebuild_that_meets_a_poison_event_activates_nothing(
    governance: Governance, admin: Meta, project, database_url: str, db: psycopg.Connection, workers
) -> None:
    register(governance, admin, "before")
    project(PoisonedNames(), MemberNames())
    register(governance, admin, "poison")
    with pytest.raises(
        RuntimeError, match=r"test_poisoned at position 2.*poison.*nothing activated"
    ):
        rebuild_all(
            database_url, governance.mapper, [PoisonedNames(), MemberNames()], workers=workers
        )
    serving = {
        s.name: (s.generation, s.status) for s in tracking.states(db) if s.status == "active"
    }
    assert serving == {"test_poisoned": (1, "active"), "test_names": (1, "active")}
    assert positions(db, "test_poisoned") == [1]
    assert positions(db, "test_names") == [1]


def test_a_failing_in_database_projection_stops_instead_of_skipping_the_range(
    governance: Governance, admin: Meta, project, db: psycopg.Connection
) -> None:
    register(governance, admin, "one")
    register(governance, admin, "two")
    project(BrokenInDatabase(), MemberNames())
    (failed,) = tracking.states(db, ["test_broken_sql"])
    assert (failed.status, failed.position, failed.error_position) == ("failed", 0, 1)
    assert "DivisionByZero" in (failed.error or "")
    assert positions(db, "test_names") == [1, 2]


def test_a_rebuild_gives_identical_tables_and_switches_readers_over(
    governance: Governance, admin: Meta, project, database_url: str, db: psycopg.Connection
) -> None:
    for i in range(30):
        register(governance, admin, f"m{i}")
    project(AuditJournal(), MemberNames())
    before = {p.name: checksums(db, p, 1) for p in (AuditJournal(), MemberNames())}
    for projection in (AuditJournal(), MemberNames()):
        generation = rebuild(database_url, governance.mapper, projection, batch_size=7)
        assert generation == 2
        assert checksums(db, projection, 2) == before[projection.name]
    assert db.execute("SELECT count(*) FROM audit_journal").fetchone()[0] == max_position(
        governance
    )
    assert db.execute("SELECT to_regclass('audit_journal_g1')").fetchone()[0] is None


def test_the_old_generation_serves_readers_until_the_new_one_is_active(
    governance: Governance, admin: Meta, project, database_url: str, db: psycopg.Connection
) -> None:
    register(governance, admin, "a")
    project(MemberNames())
    generation = rebuild(database_url, governance.mapper, MemberNames(), activate=False)
    states = {s.generation: s.status for s in tracking.states(db, ["test_names"])}
    assert states == {1: "active", generation: "building"}
    assert db.execute("SELECT count(*) FROM test_names").fetchone()[0] == 1


def test_wait_for_answers_when_the_position_is_reached_or_the_time_is_up(
    governance: Governance, admin: Meta, project, database_url: str
) -> None:
    register(governance, admin, "a")
    project(MemberNames())
    assert tracking.wait_for(database_url, ["test_names"], max_position(governance), timeout=1)
    assert not tracking.wait_for(
        database_url, ["test_names"], max_position(governance) + 1, timeout=0.05
    )
    assert not tracking.wait_for(database_url, ["no_such_projection"], 0, timeout=0.05)


def test_a_generation_gets_its_secondary_indexes_when_it_is_activated(
    governance: Governance, admin: Meta, database_url: str, db: psycopg.Connection
) -> None:
    for i in range(3):
        register(governance, admin, f"m{i}")
    projection = AuditJournal()

    def indexes(generation: int) -> set[str]:
        return {
            r[0]
            for r in db.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = %s",
                (f"audit_journal_g{generation}",),
            )
        }

    generation = rebuild(database_url, governance.mapper, projection, activate=False)
    assert indexes(generation) == {f"audit_journal_g{generation}_pkey"}
    with db.transaction():
        tracking.activate(db, projection, generation)
    assert indexes(generation) == {
        f"audit_journal_g{generation}_pkey",
        f"audit_journal_g{generation}_stream",
    }


def test_a_live_page_without_its_events_advances_an_in_database_projection_untouched(
    governance: Governance, admin: Meta, tree, database_url: str, db: psycopg.Connection
) -> None:
    ranges = MemberRanges()
    runner = Runner(database_url, governance.mapper, [Target(ranges), Target(MemberNames())])
    try:
        runner.run_until_caught_up()
        before = max_position(governance)
        register(governance, admin, "a")
        runner.run_page()  # a page with a registration: it runs
        registered = max_position(governance)
        governance.define_jurisdiction(
            admin, code="HG-WH-BH-03", name="新网格", kind="grid", parent=tree["community"]
        )
        runner.run_page()  # a page without one: nothing to do
    finally:
        runner.close()
    ran = db.execute("SELECT after, last FROM test_ranges_g1 ORDER BY after").fetchall()
    assert (before, registered) in ran
    assert all(last <= registered for _, last in ran)
    states = {s.name: s.position for s in tracking.states(db, ["test_ranges", "test_names"])}
    assert states == {
        "test_ranges": max_position(governance),
        "test_names": max_position(governance),
    }
