"""Every role, admin included, acts and reads only inside its token's scope (a platform
admin has the scope `*`); a role that may not send a command is refused before its body
is looked at; /metrics answers only the scrape token or a platform admin."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.runtime.settings import Settings
from tests.api.conftest import SECRET, Api, unique

DISTRICT_ADMIN = {"role": "admin", "sub": "staff:district-admin", "scope": "HG"}


@pytest.fixture(scope="module")
def far(api: Api, tree: dict[str, str]) -> dict[str, str]:
    return api.tree("XB")


def test_a_district_admin_acts_in_its_district_only(
    api: Api, tree: dict[str, str], far: dict[str, str]
) -> None:
    here = {
        "name": unique("居民"),
        "phone": "13800138000",
        "kind": "resident",
        "home_grid": tree["grid"],
    }
    assert api.post("/v1/members", here, **DISTRICT_ADMIN).status_code == 201
    before = api.events()
    there = {**here, "home_grid": far["grid"]}
    refused = api.post("/v1/members", there, **DISTRICT_ADMIN)
    assert refused.status_code == 403, refused.text
    assert "outside this token's scope HG" in refused.json()["detail"]
    new_district = {"code": unique("XD"), "kind": "district", "name": "新区", "parent": None}
    assert api.post("/v1/jurisdictions", new_district, **DISTRICT_ADMIN).status_code == 403
    street = {"code": unique("XB-S"), "kind": "street", "name": "街道", "parent": far["district"]}
    assert api.post("/v1/jurisdictions", street, **DISTRICT_ADMIN).status_code == 403
    assert api.events() == before  # refused commands record nothing
    assert api.post("/v1/jurisdictions", new_district).status_code == 201  # platform admin (*)


def test_a_district_admin_reads_its_district_only_and_not_the_audit_trail(
    api: Api, tree: dict[str, str], far: dict[str, str]
) -> None:
    ticket = {"category": "环境卫生", "description": "楼道堆物", "source": "hotline"}
    mine = api.ok("POST", "/v1/tickets", {**ticket, "grid": tree["grid"]})
    theirs = api.ok("POST", "/v1/tickets", {**ticket, "grid": far["grid"]})
    read = api.get(f"/v1/tickets/{mine['id']}", after=theirs["position"], **DISTRICT_ADMIN)
    assert read.status_code == 200
    assert api.get(f"/v1/tickets/{theirs['id']}", **DISTRICT_ADMIN).status_code == 404
    listed = api.read("/v1/tickets", theirs["position"], **DISTRICT_ADMIN)["items"]
    assert mine["id"] in {t["id"] for t in listed}
    assert theirs["id"] not in {t["id"] for t in listed}
    assert api.get("/v1/audit/events", **DISTRICT_ADMIN).status_code == 403
    assert api.get("/v1/audit/events").status_code == 200  # the platform admin


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("auditor", "POST", "/v1/members"),
        ("evaluator", "POST", "/v1/tickets"),
        ("resident", "POST", "/v1/jurisdictions"),
        ("auditor", "POST", "/v1/tickets/not-a-uuid/close"),
        ("grid_worker", "PUT", "/v1/jurisdictions/HG-WH-BH/rulebook/rules/r1"),
    ],
)
def test_a_role_that_may_not_send_a_command_is_refused_before_validation(
    api: Api, role: str, method: str, path: str
) -> None:
    bad = {"name": "", "kind": "alien", "unexpected": 1}
    response = api.client.request(method, path, json=bad, headers=api.headers(role=role))
    assert response.status_code == 403, response.text
    assert "errors" not in response.json()
    headers = {**api.headers(role=role), "content-type": "application/json"}
    not_json = api.client.request(method, path, content=b"{", headers=headers)
    assert not_json.status_code == 403, not_json.text


def test_metrics_answer_the_scrape_token_or_a_platform_admin_only(
    api: Api, database_url: str, tmp_path: Path
) -> None:
    assert api.client.get("/metrics").status_code == 401
    assert api.get("/metrics", **DISTRICT_ADMIN).status_code == 403
    assert api.get("/metrics", role="auditor").status_code == 403
    assert api.get("/metrics").status_code == 200
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=tmp_path,
        jwt_secret=SECRET,
        workers_in_process=False,
        metrics_token="scrape-token-0123456789",
    )
    with TestClient(create_app(settings)) as client:
        scrape = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
        assert scrape.status_code == 200
        assert "gridledger_http_requests_total" in scrape.text
        wrong = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-wrong"})
        assert wrong.status_code == 401
