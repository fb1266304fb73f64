"""Every connection to the database cut, again and again, under command load: the API,
the projection worker and the deadline watcher (three real processes) recover by
themselves, `/readyz` says 503 while the database is unreachable, and nothing
acknowledged is lost.

Two kinds of cut: the server terminates every backend of the test database
(pg_terminate_backend: the database stays reachable, each connection must be made
again), and the network to it goes away for a while (tests/netcut.py: open connections
reset, new ones refused), then comes back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.faults.load import Load, duplicated_names, missing_events, retry_all
from tests.faults.procs import (
    PATIENCE,
    Gridledger,
    Server,
    active_positions,
    caught_up,
    eventually,
)
from tests.faults.test_workers_killed import PROJECTIONS
from tests.netcut import NetCut

TERMINATIONS = 4
OUTAGES = 2


@pytest.fixture
def net(fault_url: str) -> Iterator[NetCut]:
    net = NetCut(fault_url)
    net.restore()
    yield net
    net.cut()


def _terminate_all(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def _watcher_at(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT position FROM deadline_watch_position").fetchone()
    return int(row[0]) if row else 0


def _ready(server: Server) -> tuple[int, bool | None]:
    """/readyz's (status, what it says of the database); (0, None) without an answer."""
    try:
        answer = httpx.get(f"{server.base}/readyz", timeout=10)
    except httpx.HTTPError:
        return 0, None
    return answer.status_code, answer.json().get("database")


def _recovery(url: str, load: Load, server: Server, acked_before: int) -> dict[str, float]:
    """Seconds from now until each part answers again: the API acknowledges a command,
    /readyz says 200, the projections and the deadline watcher's index reach that
    command's position."""
    start, took = time.monotonic(), {}
    eventually("a command acknowledged", lambda: load.count() > acked_before)
    took["command"] = time.monotonic() - start
    position = load.last_position()
    parts = {
        "readyz": lambda: _ready(server)[0] == 200,
        "projections": lambda: min(active_positions(url).values(), default=0) >= position,
        "watcher": lambda: _watcher_at(url) >= position,
    }
    while len(took) < 1 + len(parts):
        for part, check in parts.items():
            if part not in took and check():
                took[part] = time.monotonic() - start
        assert time.monotonic() - start < PATIENCE, f"gave up waiting; recovered {took}"
        time.sleep(0.02)
    return took


def test_api_workers_and_watcher_recover_from_cut_connections_losing_nothing(
    gl: Gridledger, net: NetCut
) -> None:
    through = {"GRIDLEDGER_DATABASE_URL": net.proxied_url(), "GRIDLEDGER_DATABASE_TIMEOUT": "1"}
    tokens = [gl.token("admin", f"staff:loader-{n}", "*") for n in range(2)]
    server = gl.serve(env=through)
    worker = gl.start("project", env=through)
    watcher = gl.start("watch", "--interval", "1", env=through)
    load = Load(server.base, tokens)
    load.start()
    recoveries: list[dict[str, float]] = []
    terminated, ready_during_outage = 0, []
    try:
        for round_no in range(TERMINATIONS + OUTAGES):
            acked = load.count()
            eventually("commands acknowledged", lambda n=acked + 10: load.count() >= n)
            acked = load.count()
            if round_no < TERMINATIONS:
                terminated += _terminate_all(gl.url)
            else:
                net.cut()
                for _ in range(5):
                    ready_during_outage.append(_ready(server))
                    time.sleep(0.2)
                net.restore()
            recoveries.append(_recovery(gl.url, load, server, acked))
    finally:
        load.stop()
    alive = [p.poll() is None for p in (server.proc, worker, watcher)]

    acked, unknown = dict(load.acked), sorted(load.unknown)
    lost = missing_events(gl.url, acked)
    settled = retry_all(load, unknown)
    eventually("the projections to catch up", lambda: caught_up(gl.url, len(PROJECTIONS)))
    organisations, twice = duplicated_names(gl.url)
    lies = [r for r in ready_during_outage if r != (503, False)]
    print(
        f"\n{TERMINATIONS} rounds of pg_terminate_backend ({terminated} backends) and"
        f" {OUTAGES} network outages under {len(tokens)} clients; {len(acked)} commands"
        f" acknowledged, {len(unknown)} without one; answers {dict(load.statuses)};"
        f" /readyz during the outages {ready_during_outage}; processes alive {alive};"
        f" acknowledged commands lost {len(lost)}; organisations {organisations}, applied"
        f" twice {twice}; seconds to recover after each cut"
        f" {[{k: round(v, 2) for k, v in r.items()} for r in recoveries]}; the slowest"
        f" {max(max(r.values()) for r in recoveries):.2f}"
    )
    assert alive == [True, True, True]
    assert terminated >= TERMINATIONS * 3  # the API's, the worker's, the watcher's at least
    assert lies == []
    assert lost == []
    assert all(r.is_success for r in settled.values())
    assert (organisations, twice) == (len(acked) + len(unknown), 0)
    assert not [s for s in load.statuses if s.startswith("5") and s != "503"]
