"""Limits a hostile client meets: waits that hold no connection and end at the log's
head, a capped `wait_ms`, a body limit enforced before parsing, per-token rates."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.waiting import APPLICATION_NAME
from api.runtime.settings import Settings
from tests.api.conftest import SECRET, Api
from tests.conftest import _truncate_all


def _client(url: str, data_dir: Path, **overrides: Any) -> TestClient:
    settings = Settings(
        _env_file=None,
        database_url=url,
        data_dir=data_dir,
        jwt_secret=SECRET,
        watch_interval=3600,
        **{"workers_in_process": True, **overrides},
    )
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def stalled(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An API whose projections have stopped: caught up once, then no workers run, so
    a position recorded since is below the log's head and never reached."""
    _truncate_all(database_url)
    data = tmp_path_factory.mktemp("data")
    with _client(database_url, data) as client:
        api = Api(client, None, database_url)  # type: ignore[arg-type]
        first = api.ok("POST", "/v1/organisations", {"name": "图书馆"})
        api.read(f"/v1/organisations/{first['id']}", first["position"])
    with _client(
        database_url, data, workers_in_process=False, read_pool_size=2, max_wait_ms=1500
    ) as client:
        api = Api(client, None, database_url)  # type: ignore[arg-type]
        api.ok("POST", "/v1/organisations", {"name": "物业"})
        yield api


def test_waiting_queries_hold_no_read_connection(stalled: Api) -> None:
    """Eight queries wait on a read pool of two; another query still answers at once."""
    app = stalled.client.app
    answers: list[httpx.Response] = []

    def wait() -> None:
        answers.append(
            stalled.get("/v1/tickets", params={"min_position": stalled.last, "limit": 1})
        )

    waiters = [threading.Thread(target=wait) for _ in range(8)]
    for thread in waiters:
        thread.start()
    watch = app.state.watch  # type: ignore[attr-defined]
    for _ in range(200):
        if watch.waiting == 8:
            break
        threading.Event().wait(0.01)
    assert watch.waiting == 8
    plain = stalled.get("/v1/tickets", params={"limit": 1})
    assert plain.status_code == 200, plain.text
    assert watch.waiting == 8  # they were all still waiting meanwhile
    for thread in waiters:
        thread.join()
    assert [a.status_code for a in answers] == [503] * 8
    assert all(a.headers["retry-after"] == "1" for a in answers)


def test_wait_ms_is_capped_by_the_setting(stalled: Api) -> None:
    response = stalled.get("/v1/tickets", params={"min_position": stalled.last, "wait_ms": 30_000})
    assert response.status_code == 503
    assert "within 1500 ms" in response.json()["detail"]


def test_a_position_beyond_the_logs_head_is_answered_at_once(stalled: Api) -> None:
    response = stalled.get(
        "/v1/tickets", params={"min_position": stalled.last + 1000, "wait_ms": 30_000}
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "beyond the log's head" in response.json()["detail"]
    assert int(response.headers["x-projection-position"]) < stalled.last


def test_the_watch_outlives_its_connection(stalled: Api) -> None:
    far = {"min_position": stalled.last + 1000, "wait_ms": 2000}
    assert "beyond" in stalled.get("/v1/tickets", params=far).json()["detail"]
    with psycopg.connect(stalled.url, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchone()
    assert killed == (1,)
    again = stalled.get("/v1/tickets", params=far)
    assert again.status_code == 503
    assert "beyond the log's head" in again.json()["detail"]  # read on a new connection


@pytest.fixture(scope="module")
def limited(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data = tmp_path_factory.mktemp("limited")
    with _client(
        database_url,
        data,
        max_body_bytes=2048,
        commands_per_second=0.01,
        commands_burst=3,
        waits_per_second=0.01,
        waits_burst=2,
    ) as client:
        yield Api(client, None, database_url)  # type: ignore[arg-type]


def test_a_body_over_the_limit_is_a_413_and_records_nothing(limited: Api) -> None:
    before = limited.events()
    headers = limited.headers()
    big = {"name": "图" * 2000}
    response = limited.client.post("/v1/organisations", json=big, headers=headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"name": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    chunked = limited.client.post(
        "/v1/organisations",
        content=chunks(),
        headers={**headers, "content-type": "application/json"},
    )
    assert chunked.status_code == 413
    unauthenticated = limited.client.post("/v1/organisations", content=b"[" * 5000)
    assert unauthenticated.status_code == 413  # refused before it is parsed or authenticated
    assert limited.events() == before


def test_a_tokens_commands_beyond_its_rate_are_429_with_retry_after(limited: Api) -> None:
    token = {"Authorization": f"Bearer {limited.token()}"}
    answers = [
        limited.client.post("/v1/organisations", json={"name": f"单位{i}"}, headers=token)
        for i in range(4)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    before = limited.events()
    assert (
        limited.client.post("/v1/organisations", json={"name": "x"}, headers=token).status_code
        == 429
    )
    assert limited.events() == before  # a refused command records nothing
    other = limited.post("/v1/organisations", {"name": "另一个令牌"})  # another token: its own rate
    assert other.status_code == 201


def test_a_tokens_waits_beyond_its_rate_are_429(limited: Api) -> None:
    token = {"Authorization": f"Bearer {limited.token()}"}
    far = {"min_position": 10**12, "wait_ms": 10}
    answers = [limited.client.get("/v1/tickets", params=far, headers=token) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 429]
    plain = limited.client.get("/v1/tickets", headers=token)
    assert plain.status_code == 200  # a query that need not wait is not counted
