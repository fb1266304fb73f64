"""Commands and reads over HTTP against `gridledger serve`, beside `Governance` called
directly, in one run on one fresh database.

    .venv/bin/python bench/http.py [--ops 2000] [--clients 1,16,64] [--gets 2000] [--separate]

1. Starts `gridledger serve` (one process, projections and watcher inside it, as
   `make run` does) on a fresh database (bench/_db.py) and defines a small tree.
2. For each number of concurrent clients: a load generator in a separate process
   (threads, one keep-alive http.client connection each) runs the command mix
   report_ticket + accept_ticket, `--ops` commands in all; commands/s and p50/p99
   latency of each request.
3. The same mix through `Governance` in this process, with as many threads.
4. GET /v1/tickets/{id} of tickets just made, `--gets` requests: reads/s, p50/p99.

Prints one table. Uses GRIDLEDGER_BENCH_DATABASE_URL's server if set, else the
embedded one. Figures belong in the README's Benchmarks section, not in tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named http.py: keep its folder off the path while the standard
# library's `http` is imported, or every `import http` would find this script.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import http.client  # noqa: E402

sys.path.insert(0, str(HERE))

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from _db import ROOT, fresh_database  # noqa: E402

from api.auth import issue_token  # noqa: E402
from api.database import library_env  # noqa: E402
from domain.application import Governance  # noqa: E402
from domain.commands.base import Meta  # noqa: E402
from domain.context import Actor  # noqa: E402

SECRET = "bench-http-secret-of-at-least-32-bytes-0123456789"
TREE = [
    ("D", "district", None),
    ("D-S", "street", "D"),
    ("D-S-C", "community", "D-S"),
    ("D-S-C-G", "grid", "D-S-C"),
]
GRID = "D-S-C-G"
TICKET = {"category": "环境卫生", "description": "楼道堆物", "grid": GRID, "source": "hotline"}
Latencies = list[float]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def token(role: str = "admin", scope: str = "D") -> str:
    return issue_token(SECRET.encode(), sub=f"bench-{role}", role=role, scope=scope)


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, port: int, bearer: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        try:
            self.conn.request(method, path, body=data, headers=self.headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.conn.close()  # the server closed an idle keep-alive connection
            self.conn.request(method, path, body=data, headers=self.headers)
            response = self.conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        if status not in (200, 201):
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return answer


def start_server(url: str, port: int, separate: bool) -> list[subprocess.Popen[bytes]]:
    """`gridledger serve`, with the projections and watcher inside it (as `make run`)
    or, `separate`, in a `gridledger project` process of their own (as in production)."""
    env = {
        **os.environ,
        "GRIDLEDGER_DATABASE_URL": url,
        "GRIDLEDGER_JWT_SECRET": SECRET,
        "GRIDLEDGER_WORKERS_IN_PROCESS": "false" if separate else "true",
        "GRIDLEDGER_READ_POOL_SIZE": "10",
    }
    gridledger = str(ROOT / ".venv" / "bin" / "gridledger")
    quiet = {"env": env, "cwd": ROOT, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen([gridledger, "project"], **quiet)] if separate else []  # type: ignore[call-overload]
    server = subprocess.Popen(
        [gridledger, "serve", "--port", str(port), "--no-access-log"], **quiet
    )  # type: ignore[call-overload]
    processes.append(server)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return processes
        except OSError:
            time.sleep(0.2)
    for process in processes:
        process.terminate()
    raise RuntimeError("gridledger serve did not start")


def in_threads(clients: int, work: Callable[[int], Latencies]) -> tuple[Latencies, float]:
    """Run `work(i)` in `clients` threads at once; all latencies and the wall time."""
    results: list[Latencies] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)

    def run(i: int) -> None:
        start.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return [x for r in results for x in r], time.perf_counter() - began


def http_commands(port: int, clients: int, ops: int) -> tuple[Latencies, float]:
    """Load generator (run in its own process): report + accept, `ops` commands."""
    pairs = max(1, ops // 2 // clients)

    def work(_: int) -> Latencies:
        client, latencies = Client(port, token()), []
        for _ in range(pairs):
            t0 = time.perf_counter()
            ticket = client.ok("POST", "/v1/tickets", TICKET)["id"]
            t1 = time.perf_counter()
            client.ok("POST", f"/v1/tickets/{ticket}/accept")
            latencies += [t1 - t0, time.perf_counter() - t1]
        return latencies

    return in_threads(clients, work)


def http_gets(port: int, clients: int, ids: list[str], gets: int) -> tuple[Latencies, float]:
    per_client = max(1, gets // clients)

    def work(i: int) -> Latencies:
        client, latencies = Client(port, token()), []
        for n in range(per_client):
            t0 = time.perf_counter()
            client.ok("GET", f"/v1/tickets/{ids[(i * per_client + n) % len(ids)]}")
            latencies.append(time.perf_counter() - t0)
        return latencies

    return in_threads(clients, work)


def _in_process(queue: Any, target: Callable[..., tuple[Latencies, float]], *args: Any) -> None:
    queue.put(target(*args))


def separately(
    target: Callable[..., tuple[Latencies, float]], *args: Any
) -> tuple[Latencies, float]:
    """`target(*args)` in a separate process (the load generator never shares the
    server's or this process's interpreter)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_in_process, args=(queue, target, *args))
    process.start()
    result: tuple[Latencies, float] = queue.get()
    process.join()
    return result


def direct_commands(governance: Governance, clients: int, ops: int) -> tuple[Latencies, float]:
    pairs = max(1, ops // 2 // clients)
    meta = Meta(actor=Actor("bench-admin", "admin"))

    def work(_: int) -> Latencies:
        latencies: Latencies = []
        for _ in range(pairs):
            t0 = time.perf_counter()
            ticket = governance.report_ticket(meta, **TICKET)
            t1 = time.perf_counter()
            governance.accept_ticket(meta, ticket.id)
            latencies += [t1 - t0, time.perf_counter() - t1]
        return latencies

    return in_threads(clients, work)


def row(what: str, clients: int, result: tuple[Latencies, float]) -> str:
    latencies, wall = result
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (
        f"| {what} | {clients} | {len(ms)} | {len(ms) / wall:,.0f} |"
        f" {statistics.median(ms):.1f} | {p99:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=2000, help="commands per run")
    parser.add_argument("--clients", default="1,16,64", help="concurrent clients per run")
    parser.add_argument("--gets", type=int, default=2000, help="GET by id per run")
    parser.add_argument(
        "--separate",
        action="store_true",
        help="projections in a `gridledger project` process, not in the API's",
    )
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]

    url = fresh_database("gridledger_bench_http")
    port = free_port()
    servers = start_server(url, port, args.separate)
    lines = [
        "| what | clients | requests | per second | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    try:
        admin = Client(port, token())
        for code, kind, parent in TREE:
            admin.ok(
                "POST",
                "/v1/jurisdictions",
                {"code": code, "kind": kind, "name": code, "parent": parent},
            )
        for clients in levels:
            lines.append(
                row(
                    "HTTP report + accept",
                    clients,
                    separately(http_commands, port, clients, args.ops),
                )
            )
        governance = Governance(env=library_env(url))
        try:
            for clients in levels:
                lines.append(
                    row(
                        "Governance direct, same mix",
                        clients,
                        direct_commands(governance, clients, args.ops),
                    )
                )
        finally:
            governance.close()
        made = admin.ok("POST", "/v1/tickets", TICKET)
        page = admin.ok(
            "GET", f"/v1/tickets?limit=500&min_position={made['position']}&wait_ms=30000"
        )
        ids = [t["id"] for t in page["items"]]
        for clients in sorted({1, min(16, max(levels))}):
            lines.append(
                row(
                    "HTTP GET /v1/tickets/{id}",
                    clients,
                    separately(http_gets, port, clients, ids, args.gets),
                )
            )
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
