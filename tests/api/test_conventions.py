"""Conventions every endpoint shares: auth, problems, idempotency, freshness, pages."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import psycopg

from tests.api.conftest import SECRET, Api, unique


def test_the_process_is_live_and_ready_with_every_projection_listed(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    names = {p["name"] for p in ready.json()["projections"]}
    assert {"tickets", "members", "points", "jurisdictions"} <= names


def test_metrics_count_requests_per_route_and_show_projection_lag(api: Api, tree) -> None:
    api.read(f"/v1/jurisdictions/{tree['grid']}", api.last)
    text = api.get("/metrics").text
    assert 'route="/v1/jurisdictions/{code}"' in text
    assert 'gridledger_projection_lag{name="tickets"}' in text
    assert "gridledger_http_request_seconds_bucket" in text


def test_no_token_is_a_401_problem(api: Api, tree) -> None:
    response = api.client.get(f"/v1/jurisdictions/{tree['grid']}")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


def test_a_token_signed_with_another_key_an_expired_one_or_an_unknown_role_is_a_401(
    api: Api, tree
) -> None:
    now = datetime.now(UTC)
    claims = {"sub": "x", "role": "admin", "scope": "HG", "exp": now + timedelta(hours=1)}
    tokens = [
        jwt.encode(claims, "another-secret-another-secret-another", algorithm="HS256"),
        jwt.encode({**claims, "exp": now - timedelta(seconds=5)}, SECRET, algorithm="HS256"),
        jwt.encode({**claims, "role": "mayor"}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": "x", "role": "admin", "exp": claims["exp"]}, SECRET, algorithm="HS256"),
        "not-a-token",
    ]
    for token in tokens:
        response = api.client.get(
            f"/v1/jurisdictions/{tree['grid']}", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, token


def test_validation_errors_are_422_problems_listing_each_error(api: Api) -> None:
    before = api.events()
    response = api.post("/v1/members", {"name": "", "phone": "x", "kind": "alien", "extra": 1})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/validation"
    fields = {e["loc"][-1] for e in problem["errors"]}
    assert {"name", "phone", "kind", "extra"} <= fields
    assert api.events() == before


def test_malformed_ids_dates_texts_and_huge_numbers_are_422_never_500(api: Api, tree) -> None:
    assert api.get("/v1/members/not-a-uuid").status_code == 422
    assert api.get("/v1/members", params={"jurisdiction": "a\x00b"}).status_code == 422
    assert api.get("/v1/members", params={"min_position": 10**30}).status_code == 422
    response = api.post("/v1/organisations", {"name": "nul\x00name"})
    assert response.status_code == 422
    assert api.post("/v1/members", "not an object").status_code == 422
    assert api.get("/v1/members", params={"cursor": "!!"}).status_code == 422


def test_an_unknown_id_is_a_404_problem(api: Api) -> None:
    response = api.get("/v1/members/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found"


def test_a_refused_command_is_a_409_naming_the_rule_and_records_nothing(api: Api, tree) -> None:
    before = api.events()
    body = {"code": tree["grid"], "kind": "grid", "name": "again", "parent": tree["community"]}
    response = api.post("/v1/jurisdictions", body)
    assert response.status_code == 409
    assert response.json()["rule"] == "jurisdiction.code_unique"
    assert "jurisdiction.code_unique" in response.json()["detail"]
    assert api.events() == before


def test_a_retry_with_the_same_key_answers_the_first_answer_and_records_nothing(api: Api) -> None:
    key = unique("key-")
    first = api.post("/v1/organisations", {"name": "社区卫生服务站"}, key=key)
    before = api.events()
    again = api.post("/v1/organisations", {"name": "社区卫生服务站"}, key=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert api.events() == before


def test_the_same_key_with_another_body_is_a_422(api: Api) -> None:
    key = unique("key-")
    api.ok("POST", "/v1/organisations", {"name": "物业公司"}, key=key)
    response = api.post("/v1/organisations", {"name": "另一家物业"}, key=key)
    assert response.status_code == 422
    assert response.json()["rule"] == "idempotency.same_body"


def test_a_query_waits_for_min_position_and_says_what_it_reflects(api: Api) -> None:
    created = api.ok("POST", "/v1/organisations", {"name": "海港区图书馆"})
    response = api.get(f"/v1/organisations/{created['id']}", after=created["position"])
    assert response.status_code == 200
    assert int(response.headers["x-projection-position"]) >= created["position"]
    assert response.json()["name"] == "海港区图书馆"


def test_a_position_not_reached_in_time_is_a_503_with_retry_after(api: Api, tree) -> None:
    path = f"/v1/jurisdictions/{tree['grid']}"
    reached = int(api.get(path).headers["x-projection-position"])
    response = api.get(path, params={"min_position": 10**12, "wait_ms": 0})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    position = int(response.headers["x-projection-position"])  # what it did reach
    assert reached <= position < 10**12


def test_lists_page_with_an_opaque_cursor_until_the_last_page(api: Api, tree) -> None:
    last = 0
    for _ in range(5):
        last = api.ok(
            "POST",
            "/v1/members",
            {"name": "张三", "phone": "13900000000", "kind": "retired", "home_grid": tree["grid2"]},
        )["position"]
    seen: list[str] = []
    cursor = None
    while True:
        params = {
            "jurisdiction": tree["grid2"],
            "limit": 2,
            **({"cursor": cursor} if cursor else {}),
        }
        page = api.read("/v1/members", last, params=params)
        assert len(page["items"]) <= 2
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert api.get("/v1/members", params={"limit": 501}).status_code == 422


def test_readyz_is_503_naming_a_failed_projection(api: Api) -> None:
    with psycopg.connect(api.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE projection_state SET status = 'failed' WHERE name = 'ticket_timeline'"
            " AND status = 'active'"
        )
        try:
            ready = api.client.get("/readyz")
            assert ready.status_code == 503
            assert "ticket_timeline" in ready.json()["status"]
            metrics = api.get("/metrics").text
            assert 'gridledger_projection_failed{name="ticket_timeline"} 1' in metrics
        finally:
            conn.execute(
                "UPDATE projection_state SET status = 'active' WHERE name = 'ticket_timeline'"
                " AND status = 'failed'"
            )


def test_a_query_answering_404_still_says_what_it_reflects(api: Api) -> None:
    created = api.ok("POST", "/v1/organisations", {"name": unique("单位")})
    response = api.get(
        "/v1/tickets/00000000-0000-0000-0000-000000000000", after=created["position"]
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["x-projection-position"]) >= created["position"]


def test_no_token_is_a_401_even_with_a_body_that_is_no_json(api: Api) -> None:
    response = api.client.post(
        "/v1/members", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/unauthenticated"
    expired = api.client.post(
        "/v1/members",
        content=b"{not json",
        headers={"content-type": "application/json", "Authorization": "Bearer x.y.z"},
    )
    assert expired.status_code == 401
    malformed = api.client.post(
        "/v1/members",
        content=b"{not json",
        headers={**api.headers(), "content-type": "application/json"},
    )
    assert malformed.status_code == 422


def test_a_cursor_tampered_into_values_of_the_wrong_type_is_a_422_on_the_cursor(
    api: Api, tree
) -> None:
    forged = base64.urlsafe_b64encode(json.dumps(["not a time", "not an id"]).encode()).decode()
    response = api.get("/v1/tickets", params={"cursor": forged})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


def test_metrics_count_each_answer_by_its_status(api: Api, tree) -> None:
    label = (
        'gridledger_http_requests_total{method="GET",route="/v1/jurisdictions/{code}",status="401"}'
    )

    def count() -> int:
        found = [x for x in api.get("/metrics").text.splitlines() if x.startswith(label)]
        return int(found[0].split()[-1]) if found else 0

    before = count()
    assert api.client.get(f"/v1/jurisdictions/{tree['grid']}").status_code == 401
    assert count() == before + 1
