"""The HTTP API through its app, on the real test database, with in-process workers.

One app per test module (its lifespan starts the projection runner and the deadline
watcher); the database is emptied when a module starts, so tests of one module share
what they create and make their own names.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.auth import issue_token
from api.runtime.settings import Settings
from tests.conftest import _truncate_all
from tests.fakes import FakeClock

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
ADMIN_ID = "staff:admin-1"
_names = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no other test of the module uses."""
    return f"{prefix}{next(_names)}"


@dataclass
class Api:
    client: TestClient
    clock: FakeClock
    url: str
    last: int = 0
    """The greatest position a command of this module answered."""

    def token(self, role: str = "admin", sub: str = ADMIN_ID, scope: str | None = None) -> str:
        """A token; its scope by default `*` for an admin (a platform admin), else HG."""
        scope = scope or ("*" if role == "admin" else "HG")
        return issue_token(SECRET.encode(), sub=sub, role=role, scope=scope, now=datetime.now(UTC))

    def headers(
        self,
        role: str = "admin",
        sub: str = ADMIN_ID,
        scope: str | None = None,
        key: str | None = None,
    ) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token(role, sub, scope)}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def post(
        self, path: str, body: Any = None, *, key: str | None = None, **who: str
    ) -> httpx.Response:
        return self.client.post(path, json=body, headers=self.headers(key=key, **who))

    def put(self, path: str, body: Any, **who: str) -> httpx.Response:
        return self.client.put(path, json=body, headers=self.headers(**who))

    def get(
        self,
        path: str,
        *,
        after: int | None = None,
        params: dict[str, Any] | None = None,
        **who: str,
    ) -> httpx.Response:
        query = dict(params or {})
        if after is not None:
            query["min_position"] = after
        return self.client.get(path, params=query, headers=self.headers(**who))

    def ok(self, method: str, path: str, body: Any = None, **who: Any) -> dict[str, Any]:
        """POST (or PUT) `body`, expecting 200 or 201; the answer's JSON."""
        response = self.put(path, body, **who) if method == "PUT" else self.post(path, body, **who)
        assert response.status_code in (200, 201), response.text
        answer: dict[str, Any] = response.json()
        self.last = max(self.last, answer["position"])
        return answer

    def read(self, path: str, after: int, **kwargs: Any) -> dict[str, Any]:
        """GET `path` once the projections reflect `after`; the answer's JSON."""
        response = self.get(path, after=after, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def events(self) -> int:
        """How many events the store holds (a refused command adds none)."""
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT count(*) FROM governance_events").fetchone()
        assert row is not None
        return int(row[0])

    def tree(self, prefix: str = "HG") -> dict[str, str]:
        """A district with one street, two communities and three grids."""
        nodes = [
            ("district", prefix, "district", "海港区", None),
            ("street", f"{prefix}-WH", "street", "文化路街道", prefix),
            ("community", f"{prefix}-WH-BH", "community", "北环社区", f"{prefix}-WH"),
            ("grid", f"{prefix}-WH-BH-01", "grid", "北环一网格", f"{prefix}-WH-BH"),
            ("grid2", f"{prefix}-WH-BH-02", "grid", "北环二网格", f"{prefix}-WH-BH"),
            ("other_community", f"{prefix}-WH-NS", "community", "南山社区", f"{prefix}-WH"),
            ("other_grid", f"{prefix}-WH-NS-01", "grid", "南山一网格", f"{prefix}-WH-NS"),
        ]
        codes = {}
        for key, code, kind, name, parent in nodes:
            body = {"code": code, "kind": kind, "name": name, "parent": parent}
            self.ok("POST", "/v1/jurisdictions", body, scope=prefix)
            codes[key] = code
        return codes

    def member(self, grid: str | None = None, **fields: Any) -> str:
        body = {
            "name": unique("居民"),
            "phone": "13800138000",
            "kind": "resident",
            "home_grid": grid,
        }
        return str(self.ok("POST", "/v1/members", {**body, **fields})["id"])


@pytest.fixture(scope="module")
def api(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Api]:
    """The app of a test module; settings the module's `API_SETTINGS` (a dict) names
    are set so."""
    _truncate_all(database_url)
    # 02:00 UTC is 10:00 in Asia/Shanghai: the local date (by which the domain counts
    # days) and the UTC date agree, whatever the time of day the tests run.
    clock = FakeClock(datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0))
    data_dir: Path = tmp_path_factory.mktemp("data")
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=data_dir,
        jwt_secret=SECRET,
        workers_in_process=True,
        watch_interval=3600,
        **getattr(request.module, "API_SETTINGS", {}),
    )
    with TestClient(create_app(settings, clock=clock)) as client:
        yield Api(client, clock, database_url)


@pytest.fixture(scope="module")
def tree(api: Api) -> dict[str, str]:
    return api.tree()
