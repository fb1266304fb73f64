"""Real `gridledger` processes for the fault suite: start, wait for, SIGKILL.

Each process runs the command line (`python -m api.cli.main ...`) of this checkout, in
its own session (so a kill takes its children too, as a machine or a container dying
would), with its output in a log file under the test's tmp_path.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from api.http.auth import issue_token
from projections.store.keys import MASTER_ENV

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fault-suite-secret-that-is-long-enough-0123456789"
PATIENCE = 120.0
"""Seconds a helper waits for a state before it gives up (a bail-out on a stuck run,
never an assertion about speed)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def eventually(what: str, check: Callable[[], Any], patience: float = PATIENCE) -> Any:
    """Poll `check` until it answers something true; answer that (fail after `patience`)."""
    deadline = time.monotonic() + patience
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def head(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM governance_events")
        return int(row.fetchone()[0])  # type: ignore[index]


def active_positions(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT name, position FROM projection_state WHERE status = 'active'"
        ).fetchall()
    return {name: int(position) for name, position in rows}


def caught_up(url: str, names: int) -> bool:
    """Whether `names` projections are active and all stand at the log's head."""
    positions = active_positions(url)
    top = head(url)
    return len(positions) == names and all(p == top for p in positions.values())


@dataclass
class Server:
    """A `gridledger serve` process on a port of 127.0.0.1."""

    proc: subprocess.Popen[bytes]
    base: str

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=timeout)


def _inherited() -> dict[str, str]:
    """This process's environment without its GRIDLEDGER_ settings, but for the personal
    data master key (tests/conftest.py sets one): what a process wraps, the test unwraps."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith("GRIDLEDGER_") or k == MASTER_ENV
    }


class Gridledger:
    """The command line on one database, with a data dir and a JWT secret of its own."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, Path] = {}
        self._logs = itertools.count(1)
        self.env = {
            **_inherited(),
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "GRIDLEDGER_DATABASE_URL": url,
            "GRIDLEDGER_DATA_DIR": str(tmp / "data"),
            "GRIDLEDGER_JWT_SECRET": SECRET,
        }

    def _command(self, args: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-m", "api.cli.main", *args]

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run a command to its end; its exit code is the caller's to judge."""
        return subprocess.run(
            self._command(args),
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a command in the background (its own session), output to a log file."""
        log = self.tmp / f"{args[0]}-{next(self._logs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                self._command(args),
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        self.logs[proc.pid] = log
        return proc

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        """What a started process has printed so far."""
        return self.logs[proc.pid].read_text(errors="replace")

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and every process of its session; reap it."""
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def kill_all(self) -> None:
        for proc in self.procs:
            self.kill(proc)

    @staticmethod
    def token(role: str, sub: str, scope: str) -> str:
        """A token the processes accept (minted here, as `gridledger token` would with
        the same secret: a process start saved per token)."""
        return issue_token(SECRET.encode(), sub=sub, role=role, scope=scope)

    def serve(self, port: int | None = None, env: dict[str, str] | None = None) -> Server:
        """Start `gridledger serve` and wait until it answers /healthz."""
        port = port or free_port()
        proc = self.start("serve", "--port", str(port), "--no-access-log", env=env)
        server = Server(proc, f"http://127.0.0.1:{port}")

        def up() -> bool:
            assert proc.poll() is None, f"serve exited with {proc.returncode}"
            try:
                return httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        eventually("the API to answer /healthz", up)
        return server
