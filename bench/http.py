"""Commands and reads over HTTP against `gridledger serve`, beside `Governance` called
directly, in one run on one fresh database.

    .venv/bin/python bench/http.py [--ops 2000] [--clients 1,16,64] [--gets 2000]
        [--separate | --server-workers N] [--open-load 0.5] [--open-seconds 20]
        [--open-rates 50,100] [--warmup 1000]

1. Starts the server on a fresh database (bench/_db.py) and defines a small tree. The
   server's shape is printed above the figures: by default one `gridledger serve`
   process with the projections and the watcher inside it (as `make run`);
   `--separate`: one serve process, the projections in a `gridledger project` process
   of their own; `--server-workers N`: `gridledger serve --workers N` beside a
   `gridledger project` process (the production shape).
2. Warm-up, unmeasured: `--warmup` commands of the mix over HTTP (16 clients) and as
   many through `Governance` directly, so that neither path is measured cold (pools
   still opening connections, caches empty).
3. Closed loop, for each number of concurrent clients: a load generator in a separate
   process (threads, one keep-alive http.client connection each, each sending its next
   request as soon as the last is answered) runs the command mix report_ticket +
   accept_ticket, `--ops` commands in all; commands/s and p50/p99 of each request.
   At saturation these latencies measure queueing (p99 ~ clients / throughput), not
   how long the server takes over one request.
4. The same mix through `Governance` in this process, with as many threads.
5. GET /v1/tickets/{id} of tickets just made, `--gets` requests, closed loop.
6. Open loop: 16 connections together offer a fixed rate (`--open-load` times the
   closed-loop rate the same run measured at 16 clients), with Poisson arrivals, for
   `--open-seconds`, first commands (each a report, or the accept of a ticket reported
   earlier), then GETs. Latency runs from each request's scheduled send time, so a
   request that waits for a free connection counts its wait (no coordinated omission).
   `--open-rates`: then commands at each of these fixed rates, the same way.

Every row also gives the CPU time per request of the process that served it: over
HTTP the server's (all its processes, not the projections' own process), direct this
process's; a figure that other work on the machine disturbs less than the rates.
Uses GRIDLEDGER_BENCH_DATABASE_URL's server if set, else the embedded one. Figures
belong in the README's Benchmarks section, not in tests.
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
import multiprocessing  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, cast  # noqa: E402

from _client import SECRET, Client, free_port, token  # noqa: E402
from _db import ROOT, fresh_database  # noqa: E402

from api.runtime.database import library_env  # noqa: E402
from domain.application import Governance  # noqa: E402
from domain.commands.base import Meta  # noqa: E402
from domain.context import Actor  # noqa: E402

TREE = [
    ("D", "district", None),
    ("D-S", "street", "D"),
    ("D-S-C", "community", "D-S"),
    ("D-S-C-G", "grid", "D-S-C"),
]
GRID = "D-S-C-G"
TICKET: dict[str, Any] = {
    "category": "环境卫生",
    "description": "楼道堆物",
    "grid": GRID,
    "source": "hotline",
}
Latencies = list[float]


def start_server(
    url: str, port: int, separate: bool, workers: int = 1
) -> list[subprocess.Popen[bytes]]:
    """`gridledger serve`, with the projections and watcher inside it (as `make run`)
    or, `separate` (always with several `workers`), in a `gridledger project` process of
    their own (as in production). The server process is the last of those answered."""
    separate = separate or workers > 1
    env = {
        **os.environ,
        "GRIDLEDGER_DATABASE_URL": url,
        "GRIDLEDGER_JWT_SECRET": SECRET,
        "GRIDLEDGER_WORKERS_IN_PROCESS": "false" if separate else "true",
        "GRIDLEDGER_READ_POOL_SIZE": "10",
        "GRIDLEDGER_COMMANDS_PER_SECOND": "0",  # measured here: the server, not its limits
        "GRIDLEDGER_WAITS_PER_SECOND": "0",
    }
    gridledger = str(ROOT / ".venv" / "bin" / "gridledger")
    quiet = {"env": env, "cwd": ROOT, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen([gridledger, "project"], **quiet)] if separate else []
    serve = [gridledger, "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen([*serve, "--no-access-log"], **quiet)
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


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) so far of process `root` and every descendant alive."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total = 0.0
    for pid, seconds in used.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            total += seconds
    return total


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


Measured = tuple[Latencies, float, float]
"""Latencies (s), wall time (s), the serving process's CPU time (s) meanwhile."""


def separately(server: int, target: Callable[..., tuple[Latencies, float]], *args: Any) -> Measured:
    """`target(*args)` in a separate process (the load generator never shares the
    server's or this process's interpreter), with the CPU time the process `server`
    (and its children) used meanwhile."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_in_process, args=(queue, target, *args))
    used = cpu_seconds(server)
    process.start()
    latencies, wall = queue.get()
    used = cpu_seconds(server) - used
    process.join()
    return latencies, wall, used


def open_loop(
    port: int, connections: int, rate: float, seconds: float, request: Callable[..., None]
) -> tuple[Latencies, float]:
    """Poisson arrivals at `rate`/s for `seconds`, served by `connections` threads, each
    with its own connection, taking the arrivals in order: `request(client)` makes one.
    Latency runs from the scheduled arrival, so waiting for a free connection counts.
    Answers the latencies and the wall time from the first arrival to the last answer."""
    arrivals = random.Random(4).expovariate  # the same schedule at every run
    schedule: list[float] = []
    at = 0.0
    while (at := at + arrivals(rate)) < seconds:
        schedule.append(at)
    taken = iter(range(len(schedule)))
    lock = threading.Lock()
    latencies: Latencies = []
    start = time.perf_counter() + 0.5  # every connection open before the first arrival

    def work(_: int) -> Latencies:
        client, mine = Client(port, token()), cast(Latencies, [])
        while True:
            with lock:
                i = next(taken, None)
            if i is None:
                return mine
            due = start + schedule[i]
            time.sleep(max(0.0, due - time.perf_counter()))
            request(client)
            mine.append(time.perf_counter() - due)

    latencies, _ = in_threads(connections, work)
    return latencies, time.perf_counter() - start


def open_commands(
    port: int, connections: int, rate: float, seconds: float
) -> tuple[Latencies, float]:
    """Open loop of commands: each arrival accepts a ticket reported earlier and not yet
    accepted, if there is one, else reports one (so about half of each)."""
    reported: deque[str] = deque()

    def command(client: Client) -> None:
        try:
            ticket = reported.popleft()
        except IndexError:
            reported.append(client.ok("POST", "/v1/tickets", TICKET)["id"])
        else:
            client.ok("POST", f"/v1/tickets/{ticket}/accept")

    return open_loop(port, connections, rate, seconds, command)


def open_gets(
    port: int, connections: int, rate: float, seconds: float, ids: list[str]
) -> tuple[Latencies, float]:
    picks = random.Random(5)

    def get(client: Client) -> None:
        client.ok("GET", f"/v1/tickets/{picks.choice(ids)}")

    return open_loop(port, connections, rate, seconds, get)


def direct_commands(governance: Governance, clients: int, ops: int) -> Measured:
    """The mix through `Governance` in this process; the CPU time is this process's."""
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

    used = time.process_time()
    latencies, wall = in_threads(clients, work)
    return latencies, wall, time.process_time() - used


def row(what: str, clients: int, result: Measured) -> str:
    latencies, wall = result[0], result[1]
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    cpu = result[2] * 1000 / len(ms)
    return (
        f"| {what} | {clients} | {len(ms)} | {len(ms) / wall:,.0f} |"
        f" {statistics.median(ms):.1f} | {p99:.1f} | {cpu:.2f} |"
    )


def shape(separate: bool, workers: int) -> str:
    if workers > 1:
        return (
            f"server: `gridledger serve --workers {workers}`, projections in a"
            " `gridledger project` process (the production shape)"
        )
    if separate:
        return "server: one `gridledger serve` process, projections in a `gridledger project` one"
    return "server: one `gridledger serve` process, projections and watcher inside (`make run`)"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--separate",
        action="store_true",
        help="projections in a `gridledger project` process, not in the API's",
    )
    for flag, kind, default, explained in (
        ("--ops", int, 2000, "commands per run"),
        ("--clients", str, "1,16,64", "concurrent clients per run"),
        ("--gets", int, 2000, "GET by id per run"),
        ("--warmup", int, 1000, "commands each way, unmeasured, before the runs"),
        ("--server-workers", int, 1, "`gridledger serve --workers N` (N > 1: --separate)"),
        ("--open-load", float, 0.5, "open-loop rate, as a share of the closed-loop rate at"
         " 16 clients (0: none)"),
        ("--open-seconds", float, 20, "each open-loop run"),
        ("--open-rates", str, "", "also offer commands at these fixed rates, per second"
         " (e.g. 50,100), open loop"),
    ):  # fmt: skip
        parser.add_argument(flag, type=kind, default=default, help=explained)
    args = parser.parse_args()
    args.levels = [int(c) for c in args.clients.split(",")]
    try:
        args.rates = [float(r) for r in args.open_rates.split(",") if r]
    except ValueError:
        parser.error(f"--open-rates: not a list of rates: {args.open_rates!r}")
    return args


CONNECTIONS = 16


@dataclass
class Run:
    """One run of the benchmark: its arguments, the server's pid and port, the table."""

    args: argparse.Namespace
    server: int
    port: int
    lines: list[str]


def closed_commands(run: Run, url: str) -> dict[tuple[str, int], float]:
    """The commands at each level of clients, by HTTP and by `Governance` directly."""
    closed: dict[tuple[str, int], float] = {}
    governance = Governance(env=library_env(url))
    if run.args.warmup:  # both paths warm (connections open, caches filled) before measuring
        separately(run.server, http_commands, run.port, 16, run.args.warmup)
        direct_commands(governance, 16, run.args.warmup)
    for clients in run.args.levels:
        result = separately(run.server, http_commands, run.port, clients, run.args.ops)
        closed[("commands", clients)] = len(result[0]) / result[1]
        run.lines.append(row("HTTP report + accept, closed loop", clients, result))
    try:
        for clients in run.args.levels:
            run.lines.append(
                row(
                    "`Governance` direct, same mix, closed loop",
                    clients,
                    direct_commands(governance, clients, run.args.ops),
                )
            )
    finally:
        governance.close()
    return closed


def closed_gets(run: Run, ids: list[str], closed: dict[tuple[str, int], float]) -> None:
    for clients in sorted({1, min(CONNECTIONS, max(run.args.levels))}):
        result = separately(run.server, http_gets, run.port, clients, ids, run.args.gets)
        closed[("gets", clients)] = len(result[0]) / result[1]
        run.lines.append(row("HTTP GET /v1/tickets/{id}, closed loop", clients, result))


def open_loops(run: Run, ids: list[str], closed: dict[tuple[str, int], float]) -> None:
    """Commands and GETs offered at a share of the closed loop's rate, then commands at
    the fixed --open-rates."""
    at = min(CONNECTIONS, max(run.args.levels))
    if run.args.open_load > 0:
        for kind, target, extra in (
            ("commands", open_commands, ()),
            ("gets", open_gets, (ids,)),
        ):
            rate = run.args.open_load * closed[(kind, at)]
            what = "HTTP report / accept" if kind == "commands" else "HTTP GET /v1/tickets/{id}"
            result = separately(
                run.server, target, run.port, CONNECTIONS, rate, run.args.open_seconds, *extra
            )
            run.lines.append(
                row(
                    f"{what}, open loop offering {rate:,.0f}/s"
                    f" ({run.args.open_load:.0%} of closed loop at {at})",
                    CONNECTIONS,
                    result,
                )
            )
    for rate in run.args.rates:
        result = separately(
            run.server, open_commands, run.port, CONNECTIONS, rate, run.args.open_seconds
        )
        what = f"HTTP report / accept, open loop offering {rate:,.0f}/s"
        run.lines.append(row(what, CONNECTIONS, result))


def main() -> None:
    args = arguments()
    url = fresh_database("gridledger_bench_http")
    port = free_port()
    servers = start_server(url, port, args.separate, args.server_workers)
    server = servers[-1].pid
    lines = [
        shape(args.separate, args.server_workers),
        f"load generator: a separate process; {os.cpu_count()} cores shared by all",
        "",
        "| what | clients | requests | per second | p50 ms | p99 ms | CPU ms/request |",
        "|---|---|---|---|---|---|---|",
    ]
    try:
        admin = Client(port, token())
        for code, kind, parent in TREE:
            admin.ok(
                "POST",
                "/v1/jurisdictions",
                {"code": code, "kind": kind, "name": code, "parent": parent},
            )
        run = Run(args, server, port, lines)
        closed = closed_commands(run, url)
        made = admin.ok("POST", "/v1/tickets", TICKET)
        page = admin.ok(
            "GET", f"/v1/tickets?limit=500&min_position={made['position']}&wait_ms=30000"
        )
        ids = [t["id"] for t in page["items"]]
        closed_gets(run, ids, closed)
        open_loops(run, ids, closed)
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
