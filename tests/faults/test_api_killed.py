"""`gridledger serve` SIGKILLed under command load (its in-process projections with it),
restarted on the same port: every acknowledged command's event is in the store, and
retrying with the same Idempotency-Key records nothing new."""

from __future__ import annotations

import random
import time

from tests.faults.load import Load, duplicated_names, missing_events, retry_all
from tests.faults.procs import Gridledger, caught_up, eventually, free_port, head
from tests.faults.test_workers_killed import PROJECTIONS

IN_PROCESS = {"GRIDLEDGER_WORKERS_IN_PROCESS": "true", "GRIDLEDGER_WATCH_INTERVAL": "1"}


def test_the_api_killed_under_load_loses_nothing_acknowledged_and_a_retry_doubles_nothing(
    gl: Gridledger,
) -> None:
    tokens = [gl.token("admin", f"staff:loader-{n}", "*") for n in range(2)]
    port = free_port()
    server = gl.serve(port, env=IN_PROCESS)
    load = Load(server.base, tokens)
    load.start()
    rng = random.Random(15)
    kills = 0
    try:
        for _ in range(3):
            at_least = load.count() + 20
            eventually("commands acknowledged", lambda n=at_least: load.count() >= n)
            time.sleep(rng.uniform(0.0, 0.5))
            gl.kill(server.proc)
            kills += 1
            server = gl.serve(port, env=IN_PROCESS)
        at_least = load.count() + 20
        eventually("commands acknowledged", lambda: load.count() >= at_least)
    finally:
        load.stop()

    acked, unknown = dict(load.acked), sorted(load.unknown)
    lost = missing_events(gl.url, acked)
    before = head(gl.url)
    again = retry_all(load, sorted(acked))
    changed = [k for k, r in again.items() if r.json() != acked[k]]
    doubled_by_retry = head(gl.url) - before
    settled = retry_all(load, unknown)  # their first try had no answer: done once, or now
    refused = [k for k, r in settled.items() if not r.is_success]
    before = head(gl.url)
    retry_all(load, sorted(acked) + unknown)
    doubled_by_second_retry = head(gl.url) - before
    eventually("the projections to catch up", lambda: caught_up(gl.url, len(PROJECTIONS)))
    organisations, twice = duplicated_names(gl.url)
    print(
        f"\nAPI SIGKILLed {kills} times under {len(tokens)} clients; {len(acked)} commands"
        f" acknowledged, {len(unknown)} without an answer; answers {dict(load.statuses)};"
        f" acknowledged commands lost {len(lost)}; retries answered differently"
        f" {len(changed)}; events a retry of an acknowledged command recorded"
        f" {doubled_by_retry}, of every command a second time {doubled_by_second_retry};"
        f" organisations {organisations}, applied twice {twice}"
    )
    assert kills == 3
    assert lost == [] and changed == [] and refused == []
    assert doubled_by_retry == 0 and doubled_by_second_retry == 0
    assert (organisations, twice) == (len(acked) + len(unknown), 0)
    assert not [s for s in load.statuses if s.startswith("5") and s != "503"]
