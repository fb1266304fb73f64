"""GET latency of one token while another holds 50 read-your-writes waits open.

    .venv/bin/python bench/waiters.py [--waiters 50] [--seconds 10] [--wait-ms 2000]

1. Starts `gridledger serve` (one process, read pool of 10, no in-process projections)
   on a fresh database (bench/_db.py) beside a `gridledger project` process; defines a
   small tree and reports tickets; waits until the projections caught up.
2. Stops the projections and records one command more: from then on a query with
   `min_position` at the log's head waits its whole `wait_ms` (the worst case: no
   projection will reach it).
3. Baseline: another token GETs /v1/tickets/{id} in a closed loop for `--seconds`.
4. Then `--waiters` threads of one token each keep one waiting query open (sending the
   next as soon as one answers its 503), and the other token GETs again, the same way.

Prints the p50/p99 of both GET runs and how many waits were held. The per-token wait
rate is switched off for this run (GRIDLEDGER_WAITS_PER_SECOND=0): 50 waits of 2 s
each are 25 a second, beyond the default 20, and the point is what waiting costs others.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's `http`: keep this folder off the
# path while it is imported (as bench/http.py itself does).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import http.client  # noqa: E402

sys.path.insert(0, str(HERE))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from _db import ROOT, fresh_database  # noqa: E402

from api.http.auth import issue_token  # noqa: E402

SECRET = "bench-waiters-secret-of-at-least-32-bytes-0123456789"
GRID = "D-S-C-G"
TREE = [
    ("D", "district", None),
    ("D-S", "street", "D"),
    ("D-S-C", "community", "D-S"),
    (GRID, "grid", "D-S-C"),
]


def call(
    conn: http.client.HTTPConnection, token: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    payload = response.read()
    return response.status, json.loads(payload) if payload else None


def start(url: str, port: int) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "GRIDLEDGER_DATABASE_URL": url,
        "GRIDLEDGER_JWT_SECRET": SECRET,
        "GRIDLEDGER_WORKERS_IN_PROCESS": "false",
        "GRIDLEDGER_READ_POOL_SIZE": "10",
        "GRIDLEDGER_WAITS_PER_SECOND": "0",
        "GRIDLEDGER_COMMANDS_PER_SECOND": "0",
        "PYTHONPATH": str(ROOT),
    }
    quiet: Any = {
        "env": env,
        "cwd": ROOT,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    cli = [sys.executable, "-m", "api.cli.main"]
    project = subprocess.Popen([*cli, "project"], **quiet)
    serve = subprocess.Popen([*cli, "serve", "--port", str(port), "--no-access-log"], **quiet)
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return project, serve
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gridledger serve did not start")


def gets(port: int, token: str, ids: list[str], seconds: float) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        began = time.perf_counter()
        status, _ = call(conn, token, "GET", f"/v1/tickets/{ids[i % len(ids)]}")
        latencies.append(time.perf_counter() - began)
        assert status == 200, status
        i += 1
    return latencies


def hold_waits(
    port: int, token: str, head: int, wait_ms: int, stop: threading.Event, held: list[int]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    path = f"/v1/tickets?min_position={head}&wait_ms={wait_ms}"
    while not stop.is_set():
        status, _ = call(conn, token, "GET", path)
        held.append(status)


def figures(name: str, latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{name:<34} {len(ms):>6} GETs  p50 {statistics.median(ms):6.2f} ms  p99 {p99:6.2f} ms"


TICKET = {"category": "环境卫生", "description": "楼道堆物", "grid": GRID, "source": "hotline"}


def define_and_report(conn: http.client.HTTPConnection, admin: str) -> list[str]:
    """Define the tree and report 50 tickets, the last read once the projections have it."""
    for code, kind, parent in TREE:
        call(
            conn,
            admin,
            "POST",
            "/v1/jurisdictions",
            {"code": code, "kind": kind, "name": code, "parent": parent},
        )
    made = [call(conn, admin, "POST", "/v1/tickets", TICKET)[1] for _ in range(50)]
    ids = [m["id"] for m in made]
    status, _ = call(
        conn,
        admin,
        "GET",
        f"/v1/tickets/{ids[-1]}?min_position={made[-1]['position']}&wait_ms=2000",
    )
    assert status == 200, status
    return ids


def gets_while_waits_are_held(
    args: argparse.Namespace, reader: str, ids: list[str], head: int
) -> tuple[list[float], list[int]]:
    """GETs by `reader` while --waiters threads of another token hold waits for `head`
    (which no projection reaches); the GETs' latencies and the waits' answers."""
    waiter = issue_token(SECRET.encode(), sub="staff:waiter", role="admin", scope="D")
    stop = threading.Event()
    held: list[int] = []
    threads = [
        threading.Thread(
            target=hold_waits, args=(args.port, waiter, head, args.wait_ms, stop, held)
        )
        for _ in range(args.waiters)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    loaded = gets(args.port, reader, ids, args.seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return loaded, held


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiters", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--wait-ms", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    url = fresh_database("gridledger_bench_waiters")
    project, serve = start(url, args.port)
    try:
        admin = issue_token(SECRET.encode(), sub="staff:bench", role="admin", scope="D")
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        ids = define_and_report(conn, admin)
        project.terminate()
        project.wait()
        head = call(conn, admin, "POST", "/v1/tickets", TICKET)[1]["position"]
        reader = issue_token(SECRET.encode(), sub="staff:reader", role="admin", scope="D")
        gets(args.port, reader, ids, 1)  # warm up
        baseline = gets(args.port, reader, ids, args.seconds)
        loaded, held = gets_while_waits_are_held(args, reader, ids, head)
        print(figures("GET, nobody waiting", baseline))
        print(figures(f"GET, {args.waiters} waits held by another token", loaded))
        answers = {s: held.count(s) for s in sorted(set(held))}
        print(f"waits answered meanwhile (status: count): {answers}")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average at the end (1, 5, 15 min; {os.cpu_count()} CPUs): {load}")
    finally:
        serve.terminate()
        project.kill()
        serve.wait()


if __name__ == "__main__":
    main()
