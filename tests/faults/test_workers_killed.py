"""`gridledger project` and `gridledger rebuild` killed with SIGKILL at random moments
(seeded), on the real database: nothing lost or applied twice, the query tables equal
an uninterrupted rebuild's (checksums), readers always see one complete generation.

Counts only; the moments are random but the seed makes them repeatable in kind.
"""

from __future__ import annotations

import random
import subprocess
import time

import psycopg

from projections.engine import tracking
from projections.engine.batch import physical
from projections.engine.rebuild import checksums, event_mapper, table_checksum
from projections.engine.shadow import verify_rebuild
from projections.registry import all_projections
from tests.faults.procs import Gridledger, active_positions, caught_up, eventually, head

SEED = 15
PROJECTIONS = all_projections()


def _simulate(gl: Gridledger, months: int = 1) -> int:
    done = gl.run("simulate", "--scale", "tiny", "--months", str(months), "--seed", "3")
    assert done.returncode == 0, done.stderr
    return head(gl.url)


def _slowest(url: str) -> int:
    """Where the slowest projection stands (0 before the first run made them)."""
    positions = active_positions(url)
    return min(positions.values()) if len(positions) == len(PROJECTIONS) else 0


def _journal(url: str) -> tuple[int, int, int]:
    """The audit journal's (rows, distinct positions, positions 1..head it lacks)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT position),"
            " (SELECT count(*) FROM generate_series(1, (SELECT max(notification_id)"
            "  FROM governance_events)) AS p WHERE p NOT IN (SELECT position FROM audit_journal))"
            " FROM audit_journal"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _differing_tables(url: str) -> tuple[int, list[str]]:
    """(tables compared, the differences) between the live tables and a rebuild from
    zero into shadow tables (checksums; `rebuild --verify`'s comparison)."""
    projections = list(PROJECTIONS.values())
    differences = verify_rebuild(url, event_mapper(), projections, batch_size=5000)
    return sum(len(p.tables) for p in projections), [str(d) for d in differences]


def _pages_later(url: str, proc: subprocess.Popen[bytes], positions: int) -> None:
    """Wait until `proc` has committed pages `positions` past where the projections
    stood (or has caught up, or ended)."""
    goal = min(_slowest(url) + positions, head(url))
    eventually("pages committed", lambda: proc.poll() is not None or _slowest(url) >= goal)


def test_project_killed_mid_page_until_caught_up_equals_an_uninterrupted_rebuild(
    gl: Gridledger,
) -> None:
    top = _simulate(gl)
    rng = random.Random(SEED)
    kills, inside, stood = 0, 0, []
    while not caught_up(gl.url, len(PROJECTIONS)) and kills < 40:
        proc = gl.start("project", "--batch-size", "20")
        # Some pages in (by count, not time: as many kills on a fast machine as on a
        # slow one), then a moment more, so that the kill lands inside a later page.
        _pages_later(gl.url, proc, rng.randint(4, 12) * 20)
        time.sleep(rng.uniform(0.0, 0.02))
        if caught_up(gl.url, len(PROJECTIONS)):
            gl.kill(proc)
            break
        inside += _other_backends(gl.url, "xact_start IS NOT NULL") > 0
        gl.kill(proc)
        kills += 1
        stood.append(min(active_positions(gl.url).values(), default=0))
    if not caught_up(gl.url, len(PROJECTIONS)):  # the kills' limit: let one run finish
        proc = gl.start("project", "--batch-size", "20")
        eventually("the projections to catch up", lambda: caught_up(gl.url, len(PROJECTIONS)))
        gl.kill(proc)

    rows, distinct, missing = _journal(gl.url)
    compared, differing = _differing_tables(gl.url)
    print(
        f"\nproject SIGKILLed {kills} times mid-run ({inside} of them with a transaction"
        f" open; the slowest projection stood at {stood});"
        f" {top} events; events lost {missing}, applied twice {rows - distinct};"
        f" tables compared {compared}, differing {len(differing)}"
    )
    assert kills >= 5, "the seed should give several kills before catching up"
    assert (rows, distinct, missing) == (top, top, 0)
    assert differing == []


def _generations(url: str) -> dict[str, list[tuple[int, str]]]:
    with psycopg.connect(url, autocommit=True) as conn:
        found: dict[str, list[tuple[int, str]]] = {}
        for state in tracking.states(conn):
            found.setdefault(state.name, []).append((state.generation, state.status))
    return found


def _readers_see_one_complete_generation(url: str, top: int) -> list[str]:
    """What is wrong with what readers see: each projection has exactly one active
    generation, at the log's head, and every reader view shows that generation's rows
    exactly (same checksum as its physical table)."""
    wrong = []
    with psycopg.connect(url, autocommit=True) as conn:
        for name, projection in PROJECTIONS.items():
            active = [s for s in tracking.states(conn, [name]) if s.status == "active"]
            if len(active) != 1 or active[0].position != top:
                wrong.append(f"{name}: active generations {active}")
                continue
            tables = checksums(conn, projection, active[0].generation)
            for base in projection.tables:
                if table_checksum(conn, base) != tables[base]:  # the reader view
                    wrong.append(f"{base} is not {physical(base, active[0].generation)}")
    return wrong


def _building(url: str) -> bool:
    return any(s == "building" for gens in _generations(url).values() for _, s in gens)


def _building_done(url: str, top: int) -> bool:
    """The newest building generation of every projection has reached the head (older
    ones are what earlier kills left behind)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (name) position FROM projection_state"
            " WHERE status = 'building' ORDER BY name, generation DESC"
        ).fetchall()
    return len(rows) == len(PROJECTIONS) and all(r[0] >= top for r in rows)


class _Reader(psycopg.Connection):  # type: ignore[type-arg]
    seen: int = 0


def _hold_a_read(url: str) -> _Reader:
    """A reader in the middle of a transaction on a reader view: the switch-over (which
    replaces the views) waits for it, so a kill then lands inside the switch."""
    reader = _Reader.connect(url)
    row = reader.execute("SELECT count(*) FROM members").fetchone()
    reader.seen = int(row[0]) if row else 0
    return reader


def _hold_the_states(url: str) -> psycopg.Connection:
    """A transaction holding the active generations' state rows: the switch-over locks
    them first, so it waits there, every new generation built and none yet active."""
    holder = psycopg.connect(url)
    holder.execute("SELECT * FROM projection_state WHERE status = 'active' FOR UPDATE")
    return holder


def _other_backends(url: str, condition: str) -> int:
    """How many other backends of the test database are in `condition` (a constant)."""
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND " + condition
    )
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def _waiting_on_a_lock(url: str) -> bool:
    return _other_backends(url, "wait_event_type = 'Lock'") > 0


def _wait_for(
    moment: str, url: str, top: int, proc: subprocess.Popen[bytes], rng: random.Random
) -> None:
    """Wait for the moment of a rebuild at which to kill it (or for its end)."""
    done = proc.poll
    if moment == "at start":
        time.sleep(rng.uniform(0.0, 0.5))
    elif moment in ("built, not switched", "in the switch"):
        eventually("the switch to wait", lambda: _waiting_on_a_lock(url) or done() is not None)
    else:
        eventually("the build to begin", lambda: _building(url) or done() is not None)
        time.sleep({"early": 0.0, "midway": 0.5, "late": 1.0}[moment] * rng.uniform(0.5, 1.5))


def test_rebuild_killed_at_several_moments_leaves_one_complete_generation_and_runs_again(
    gl: Gridledger,
) -> None:
    top = _simulate(gl)
    first = gl.start("project")
    eventually("the projections to catch up", lambda: caught_up(gl.url, len(PROJECTIONS)))
    gl.kill(first)
    with psycopg.connect(gl.url, autocommit=True) as conn:
        before = {
            name: checksums(conn, p, tracking.current(conn, name).generation)  # type: ignore[union-attr]
            for name, p in PROJECTIONS.items()
        }
    rng = random.Random(SEED)
    moments = ["at start", "early", "midway", "late", "built, not switched", "in the switch"]
    kills, after_switch, wrong_seen, built_when_killed = 0, [], 0, False
    for moment in moments:
        reader = _hold_a_read(gl.url) if moment == "in the switch" else None
        holder = _hold_the_states(gl.url) if moment == "built, not switched" else None
        proc = gl.start("rebuild", "--batch-size", "200", "--workers", "2")
        _wait_for(moment, gl.url, top, proc, rng)
        if proc.poll() is not None:
            after_switch.append(moment)  # it had finished: the kill hit nothing
        gl.kill(proc)
        kills += 1
        if holder is not None:
            built_when_killed = _building_done(gl.url, top)
            holder.close()
        if reader is not None:  # it still reads the generation it began with, whole
            assert reader.execute("SELECT count(*) FROM members").fetchone() == (reader.seen,)
            reader.close()
        wrong = _readers_see_one_complete_generation(gl.url, top)
        wrong_seen += len(wrong)
        assert wrong == [], f"killed {moment}: {wrong}"

    leftover = sum(s == "building" for gens in _generations(gl.url).values() for _, s in gens)
    again = gl.run("rebuild", "--batch-size", "2000", "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert _readers_see_one_complete_generation(gl.url, top) == []
    with psycopg.connect(gl.url, autocommit=True) as conn:
        after = {
            name: checksums(conn, p, tracking.current(conn, name).generation)  # type: ignore[union-attr]
            for name, p in PROJECTIONS.items()
        }
    differing = [
        (name, base) for name, tables in before.items() for base in tables
        if tables[base] != after[name][base]
    ]  # fmt: skip
    print(
        f"\nrebuild SIGKILLed {kills} times, {kills - len(after_switch)} before it had"
        f" switched over (moments {moments}; finished first: {after_switch}); readers saw"
        f" an incomplete generation {wrong_seen} times; every new generation built at the"
        f" kill before switch-over {built_when_killed};"
        f" building generations left behind {leftover}; the next rebuild exited"
        f" {again.returncode}; tables differing from before {len(differing)}"
    )
    assert differing == []
    assert after_switch == []  # every kill landed inside the rebuild
    assert built_when_killed
