"""The database going away under a running API, on the real server: requests answer
503 problem+json with Retry-After (not a 500, not a long hang), and the API recovers by
itself once the server answers again, replacing the connections it lost.

No mock: the app talks to PostgreSQL through a TCP port (tests/netcut.py) that the test
cuts and restores, or the server itself drops the app's connections
(pg_terminate_backend).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.runtime.settings import Settings
from tests.api.conftest import SECRET, Api
from tests.conftest import _truncate_all
from tests.netcut import NetCut


def _client(url: str, data_dir: Path, timeout: int) -> TestClient:
    """An app on `url` whose requests wait `timeout` s for a connection, then 503."""
    settings = Settings(
        _env_file=None,
        database_url=url,
        data_dir=data_dir,
        jwt_secret=SECRET,
        workers_in_process=True,
        watch_interval=3600,
        database_timeout=timeout,
    )
    return TestClient(create_app(settings))


@pytest.fixture
def net(database_url: str) -> Iterator[NetCut]:
    _truncate_all(database_url)
    net = NetCut(database_url)
    net.restore()
    yield net
    net.cut()


def _admin(client: TestClient) -> dict[str, str]:
    token = Api(client, None, "").token()  # type: ignore[arg-type]  # no database URL: the token needs none
    return {"Authorization": f"Bearer {token}"}


def _until_not_503(request: Callable[[], httpx.Response], attempts: int = 60) -> httpx.Response:
    """The first answer that is not a 503 (the pools reconnect in the background)."""
    for _ in range(attempts):
        response = request()
        if response.status_code != 503:
            return response
        time.sleep(0.25)
    return response


def test_an_unreachable_database_is_a_503_problem_and_the_api_recovers(
    net: NetCut, tmp_path: Path
) -> None:
    with _client(net.proxied_url(), tmp_path, timeout=1) as client:
        admin = _admin(client)
        created = client.post("/v1/organisations", json={"name": "社区医院"}, headers=admin)
        assert created.status_code == 201, created.text

        net.cut()
        answers = [
            client.post("/v1/organisations", json={"name": "物业"}, headers=admin),
            client.get(f"/v1/organisations/{created.json()['id']}", headers=admin),
            client.get("/v1/tickets", headers=admin),
        ]
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["retry-after"] == "1"
            assert answer.json()["type"] == "/problems/unavailable"
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()["database"]) == (503, False)

        net.restore()
        again = _until_not_503(
            lambda: client.post("/v1/organisations", json={"name": "超市"}, headers=admin)
        )
        assert again.status_code == 201, again.text
        read = _until_not_503(
            lambda: client.get(
                f"/v1/organisations/{again.json()['id']}",
                params={"min_position": again.json()["position"], "wait_ms": 10_000},
                headers=admin,
            )
        )
        assert read.status_code == 200, read.text  # the projections caught up too


def test_connections_the_server_drops_are_replaced_not_failed(
    database_url: str, tmp_path: Path
) -> None:
    _truncate_all(database_url)
    with _client(database_url, tmp_path, timeout=10) as client:  # a busy machine
        admin = _admin(client)
        first = client.post("/v1/organisations", json={"name": "学校"}, headers=admin)
        assert first.status_code == 201
        assert client.get("/v1/tickets", headers=admin).status_code == 200
        with psycopg.connect(database_url, autocommit=True) as conn:
            dropped = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert dropped is not None and dropped[0] > 0
        second = client.post("/v1/organisations", json={"name": "银行"}, headers=admin)
        assert second.status_code == 201, second.text
        assert client.get("/v1/tickets", headers=admin).status_code == 200
        read = client.get(
            f"/v1/organisations/{second.json()['id']}",
            params={"min_position": second.json()["position"], "wait_ms": 10_000},
            headers=admin,
        )
        assert read.status_code == 200, read.text
