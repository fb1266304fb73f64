"""Command load for the fault suite: client threads registering organisations through
the real HTTP API, each command with an Idempotency-Key, remembering what was
acknowledged (a 2xx and its answer) and what is unknown (no answer: the connection was
cut, or a 5xx) so that the test can check and retry both."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg


@dataclass
class Load:
    base: str
    tokens: list[str]
    """One per client thread (a rate limit per token then meets one client's pace)."""
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    statuses: Counter[str] = field(default_factory=Counter)
    stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def send(self, client: httpx.Client, key: str, token: str) -> httpx.Response | None:
        """POST the command of `key`; None when no answer came back."""
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        try:
            return client.post("/v1/organisations", json={"name": key}, headers=headers)
        except httpx.HTTPError:
            return None

    def _client(self, n: int) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            i = 0
            while not self.stopping.is_set():
                i += 1
                key = f"org-{n}-{i}"
                response = self.send(client, key, self.tokens[n])
                with self._lock:
                    status = "no answer" if response is None else str(response.status_code)
                    self.statuses[status] += 1
                    if response is not None and response.is_success:
                        self.acked[key] = response.json()
                    else:
                        self.unknown.add(key)
                if response is None or response.status_code >= 500 or response.status_code == 429:
                    time.sleep(0.05)  # the server is down or busy: a client backs off

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True)
            for n in range(len(self.tokens))
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def count(self) -> int:
        with self._lock:
            return len(self.acked)

    def last_position(self) -> int:
        """The greatest position acknowledged so far."""
        with self._lock:
            return max((a["position"] for a in self.acked.values()), default=0)


def missing_events(url: str, acked: dict[str, dict[str, Any]]) -> list[str]:
    """The acknowledged commands whose event (the answer's aggregate at the answer's
    version) is not in the store at or before the answered position (the position of
    the command's last event: its idempotency record may come after the aggregate's)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT originator_id::text, originator_version, notification_id"
            " FROM governance_events WHERE originator_id = ANY(%s::uuid[])",
            ([str(a["id"]) for a in acked.values()],),
        ).fetchall()
    stored = {(str(i), int(v)): int(p) for i, v, p in rows}
    return [
        key
        for key, answer in acked.items()
        if stored.get((str(answer["id"]), answer["version"]), answer["position"] + 1)
        > answer["position"]
    ]


def retry_all(load: Load, keys: list[str]) -> dict[str, httpx.Response]:
    """Send each key's command again (by the client that sent it first), once the server
    answers; every answer, by key."""
    answers = {}
    with httpx.Client(base_url=load.base, timeout=30) as client:
        for key in keys:
            token = load.tokens[int(key.split("-")[1])]
            response = load.send(client, key, token)
            while response is None or response.status_code in (429, 503):
                time.sleep(0.1)
                response = load.send(client, key, token)
            answers[key] = response
    return answers


def duplicated_names(url: str) -> tuple[int, int]:
    """(organisations in the query table, names registered more than once)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) - count(DISTINCT name) FROM organisations"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
