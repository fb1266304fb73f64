"""Open311 against real clients: the PyPI `georeport` client (0.3.1) and httpx posting
forms exactly as the spec shows, both against the app served by uvicorn on 127.0.0.1.

The georeport client cannot send an api_key, so this server makes the district `HG`
public (`open311_public_scope`): anyone reads its requests, without the descriptions
and places residents wrote."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import georeport
import httpx
import pytest
import requests
import uvicorn
from georeport import GeoReport
from lxml import etree

from api.http.app import create_app
from api.runtime import open311_clients
from api.runtime.settings import Settings
from tests.api.conftest import SECRET, Api
from tests.api.open311_spec import REQUEST_ELEMENTS
from tests.conftest import _truncate_all

STAFF = {"role": "community_staff", "sub": "staff:1", "scope": "HG-WH-BH"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app, served by uvicorn in a thread; its base URL."""
    _truncate_all(database_url)
    data: Path = tmp_path_factory.mktemp("data")
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=data,
        jwt_secret=SECRET,
        workers_in_process=True,
        watch_interval=3600,
        open311_public_scope="HG",
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="open311-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests and httpx honour *_proxy variables; the server is on the loopback."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def world(served: str, database_url: str) -> Iterator[dict[str, Any]]:
    """A district, a client's key, and three tickets: two posted through Open311 (one
    resolved), one a resident reported through /v1."""
    with httpx.Client(base_url=served, trust_env=False, timeout=30) as client:
        api = Api(client, None, database_url)  # type: ignore[arg-type]
        tree = api.tree()
        _, key = open311_clients.issue(
            database_url, name="12345 热线", jurisdiction="HG", source="hotline"
        )
        noise = post_as_the_spec_shows(client, key, tree["grid"], "noise", "夜间广场舞")
        trash = post_as_the_spec_shows(client, key, tree["grid2"], "sanitation", "垃圾满溢")
        position = 0
        for action, body in (
            ("accept", None),
            ("dispatch", {"level": "grid", "assignee": "网格员张三"}),
            ("respond", {"note": "已到现场"}),
            ("resolve", {"resolution": "已清运 & 消毒 <当日>"}),
        ):
            answer = api.ok("POST", f"/v1/tickets/{trash}/{action}", body, **STAFF)
            position = answer["position"]
        resident = api.member(tree["grid"])
        own = api.ok("POST", "/v1/tickets", {
            "category": "parking", "description": "我家门口李先生的车堵了消防通道",
            "grid": tree["grid"], "source": "resident",
        }, role="resident", sub=resident, scope=tree["community"])  # fmt: skip
        position = max(position, own["position"])
        api.read("/v1/tickets", position)  # the projections have everything
        yield {"tree": tree, "key": key, "noise": noise, "trash": trash, "own": own["id"],
               "client": client, "base": f"{served}/open311/v2"}  # fmt: skip


def post_as_the_spec_shows(
    client: httpx.Client, key: str, grid: str, service_code: str, description: str
) -> str:
    """POST requests.xml as the spec's example does: a form-encoded body, api_key in it."""
    body = urlencode({
        "api_key": key, "jurisdiction_id": "HG", "service_code": service_code,
        "lat": "39.93524078", "long": "119.6012043", "address_string": "北环路 3 号",
        "email": "smit222@sfgov.edu", "device_id": "tt222111", "account_id": "123456",
        "first_name": "john", "last_name": "smith", "phone": "111111111",
        "description": description, "media_url": "http://example.invalid/photo.jpg",
        "attribute[grid]": grid,
    })  # fmt: skip
    answer = client.post(
        "/open311/v2/requests.xml",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/xml; charset=utf-8"
    assert answer.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = etree.fromstring(answer.content)
    assert root.tag == "service_requests" and [c.tag for c in root] == ["request"]
    assert [c.tag for c in root[0]] == ["service_request_id", "service_notice", "account_id"]
    return str(root[0].findtext("service_request_id"))


def as_list(value: Any) -> list[Any]:
    """xmltodict makes one element a dict, several a list."""
    return value if isinstance(value, list) else [value]


def test_the_client_under_test_is_georeport_0_3_1() -> None:
    assert georeport.__version__ == "0.3.1"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_the_services_and_a_definition(world, fmt: str) -> None:
    report = GeoReport(world["base"], jurisdiction="HG", output_format=fmt)
    services = report.get_service_list()
    codes = [s["service_code"] for s in services]
    assert "sanitation" in codes and "noise" in codes
    assert services[0]["type"] == "realtime"
    definition = report.get_service_definition("sanitation")
    assert definition["service_code"] == "sanitation"
    attributes = definition["attributes"]
    if fmt == "xml":
        attributes = as_list(attributes["attribute"])
        assert attributes[0]["required"] == "true"
    else:
        assert attributes[0]["required"] is True
    assert [a["code"] for a in attributes] == ["grid", "priority", "deadlines"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_requests_and_one_request(world, fmt: str) -> None:
    report = GeoReport(world["base"], jurisdiction="HG", output_format=fmt)
    found = {r["service_request_id"]: r for r in as_list(report.get_service_requests())}
    assert {world["noise"], world["trash"], world["own"]} <= set(found)
    trash = found[world["trash"]]
    assert trash["status"] == "closed"
    assert trash["status_notes"] == "已办结：已清运 & 消毒 <当日>"
    assert trash["agency_responsible"] == "网格：网格员张三"
    assert trash["requested_datetime"].endswith("Z")
    assert found[world["noise"]]["status"] == "open"
    open_ones = as_list(report.get_service_requests(status="open", service_code="noise"))
    assert [r["service_request_id"] for r in open_ones] == [world["noise"]]
    both = report.get_service_requests(service_request_id=f"{world['noise']},{world['trash']}")
    assert {r["service_request_id"] for r in as_list(both)} == {world["noise"], world["trash"]}
    one = report.get_service_request(world["trash"])
    assert one["service_request_id"] == world["trash"] and one["service_code"] == "sanitation"
    for request in [*found.values(), one]:
        assert set(request) <= REQUEST_ELEMENTS
        # A public read shows nobody's words or whereabouts, and never the reporter.
        assert request["description"] is None and request["address"] is None


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_meets_the_specs_errors(world, fmt: str) -> None:
    report = GeoReport(world["base"], output_format=fmt)
    with pytest.raises(requests.HTTPError) as unknown:
        report.get_service_request("00000000-0000-0000-0000-000000000009")
    assert unknown.value.response.status_code == 404
    assert unknown.value.response.headers["Content-Type"].startswith(
        "application/json" if fmt == "json" else "text/xml"
    )
    with pytest.raises(requests.HTTPError) as bad:
        report.get_service_requests(status="pending")
    assert bad.value.response.status_code == 400
    with pytest.raises(requests.HTTPError) as elsewhere:
        GeoReport(world["base"], jurisdiction="XX", output_format=fmt).get_service_list()
    assert elsewhere.value.response.status_code == 404


def test_the_public_reads_only_its_scope_and_a_key_sees_its_own_words(world) -> None:
    client: httpx.Client = world["client"]
    public = client.get(f"/open311/v2/requests/{world['noise']}.json").json()[0]
    assert public["description"] is None
    keyed = client.get(
        f"/open311/v2/requests/{world['noise']}.json", params={"api_key": world["key"]}
    ).json()[0]
    assert keyed["description"] == "夜间广场舞" and keyed["address"] == "北环路 3 号"
    own = client.get(
        f"/open311/v2/requests/{world['own']}.xml",
        params={"api_key": world["key"], "extensions": "true"},
    )
    assert own.status_code == 200 and "李先生" not in own.text
    text = client.get("/open311/v2/requests.xml", params={"api_key": world["key"]}).text
    for personal in ("smit222", "john", "smith", "111111111", "tt222111"):
        assert personal not in text
    discovery = client.get("/open311/discovery.json").json()
    assert discovery["endpoints"][0]["url"].endswith("/open311/v2")
