"""`gridledger run`'s demo: a simulated district and one working token per role."""

from __future__ import annotations

from datetime import date

from api.cli import demo
from api.http.auth import ROLES
from api.runtime.settings import Settings
from tests.api.conftest import SECRET, Api


def test_the_demo_seeds_an_empty_store_once_and_its_tokens_work(api: Api) -> None:
    settings = Settings(_env_file=None, database_url=api.url)
    report = demo.seed(settings, api.url, scale="tiny", today=date(2026, 3, 15))
    assert report is not None and report.events > 0
    assert demo.seed(settings, api.url, scale="tiny", today=date(2026, 3, 15)) is None
    demo.catch_up(settings, api.url)
    tokens = {t.role: t for t in demo.tokens(api.url, SECRET.encode())}
    assert set(tokens) == set(ROLES)
    for t in tokens.values():
        headers = {"Authorization": f"Bearer {t.token}"}
        assert api.client.get(f"/v1/jurisdictions/{t.scope}", headers=headers).status_code == 200
    resident = tokens["resident"]
    own = api.client.get(
        f"/v1/points/accounts/{resident.sub}",
        headers={"Authorization": f"Bearer {resident.token}"},
    )
    assert own.status_code == 200
    worker = tokens["grid_worker"]
    queue = api.client.get(
        "/v1/tickets",
        params={"grid": worker.scope},
        headers={"Authorization": f"Bearer {worker.token}"},
    )
    assert queue.status_code == 200 and queue.json()["items"]
