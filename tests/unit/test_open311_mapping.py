"""Tickets as Open311 requests, categories as services, and the GET/POST parameters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from api.http.open311 import catalogue, mapping
from api.http.open311.catalogue import (
    DEFAULT_CATALOGUE,
    Catalogue,
    CategoryService,
    catalogue_of,
)
from api.http.open311.errors import Open311Error
from api.http.open311.mapping import (
    agency_responsible,
    discloses,
    open311_status,
    service_notice,
    status_notes,
    ticket_to_request,
    timeline_notes,
    updated_datetime,
)
from api.http.open311.params import parse_post_form, parse_requests_query, parse_w3c
from api.http.open311.render import Format, render_service_requests
from api.runtime.settings import Settings
from domain.ticket_policy import TicketPolicy
from tests.unit.open311_rows import POLICY, REPORTED_AT, ticket_row


@pytest.fixture
def policy():
    return POLICY


def test_every_ticket_status_is_open_until_resolved_or_rejected():
    assert {s: open311_status(s) for s in mapping.STATUSES} == {
        "reported": "open", "accepted": "open", "rejected": "closed", "dispatched": "open",
        "responded": "open", "resolved": "closed", "closed": "closed",
    }  # fmt: skip
    assert mapping.TICKET_STATUSES["closed"] == ("rejected", "resolved", "closed")
    with pytest.raises(ValueError):
        open311_status("escalated")


def test_the_agency_responsible_is_the_level_and_its_assignee():
    assert agency_responsible(None, None) is None
    assert agency_responsible("street", "区城管局") == "街道：区城管局"
    assert agency_responsible("street", None) == "街道"
    assert agency_responsible("department", "热力公司", "en") == "department: 热力公司"


@pytest.mark.parametrize(
    ("changes", "zh", "en"),
    [
        ({}, "已上报，待受理", "Reported; awaiting acceptance"),
        ({"status": "accepted"}, "已受理，待派单", "Accepted; awaiting dispatch"),
        ({"status": "dispatched", "level": "grid", "assignee": "grid-worker-17"},
         "已派单至网格：grid-worker-17，待响应",
         "Dispatched to grid: grid-worker-17; awaiting response"),
        ({"status": "responded", "level": "community", "assignee": "居委会"},
         "社区：居委会已响应，正在办理", "community: 居委会 responded; being handled"),
        ({"status": "accepted", "level": "street", "escalation_count": 1},
         "已上报至街道处理，待街道派单", "Escalated to the street office; awaiting its dispatch"),
        ({"status": "dispatched", "level": "grid", "assignee": "gw", "reopen_count": 2},
         "已重新派单至网格：gw（第 2 次重办），待办结",
         "Reopened and dispatched to grid: gw (round 2); awaiting resolution"),
        ({"status": "resolved", "resolution": "堆物已清理"}, "已办结：堆物已清理",
         "Resolved: 堆物已清理"),
        ({"status": "closed", "resolution": "堆物已清理"}, "已办结销号：堆物已清理",
         "Resolved and closed: 堆物已清理"),
        ({"status": "rejected", "rejection_reason": "invalid"}, "不予受理：无效上报",
         "Not accepted: invalid report"),
        ({"status": "rejected", "rejection_reason": "duplicate", "duplicate_of": UUID(int=9)},
         "不予受理：与事项 00000000-0000-0000-0000-000000000009 重复",
         "Not accepted: duplicate of request 00000000-0000-0000-0000-000000000009"),
        ({"status": "responded", "level": "grid", "assignee": "gw", "response_overdue": True,
          "resolution_overdue": True},
         "网格：gw已响应，正在办理；响应超时；办结超时",
         "grid: gw responded; being handled; response overdue; resolution overdue"),
    ],
)  # fmt: skip
def test_status_notes_say_why_the_ticket_is_where_it_is(changes, zh, en):
    assert status_notes(ticket_row(**changes)) == zh
    assert status_notes(ticket_row(**changes), "en") == en


def test_updated_datetime_is_the_closing_time_of_a_closed_request():
    later = REPORTED_AT + timedelta(hours=5)
    latest = REPORTED_AT + timedelta(days=2)
    assert updated_datetime(ticket_row(updated_at=later)) == later
    resolved = ticket_row(status="resolved", resolved_at=later, updated_at=latest)  # then rated
    assert updated_datetime(resolved) == later
    assert updated_datetime(ticket_row(status="closed", closed_at=latest)) == latest
    assert updated_datetime(ticket_row(status="rejected", updated_at=later)) == later


def test_the_service_notice_names_the_deadlines(policy):
    assert service_notice(policy, "sanitation") == "1 小时内响应，72 小时内办结"
    assert service_notice(policy, "safety_hazard", "urgent") == "1 小时内响应，4 小时内办结"
    quick = TicketPolicy(response=timedelta(minutes=90))
    assert service_notice(quick, "x", "normal", "en") == (
        "Response within 90 minutes, resolution within 72 hours"
    )


def test_the_default_catalogue_offers_every_simulated_category_with_safe_codes():
    services = DEFAULT_CATALOGUE.service_list()
    assert len(services) == 11
    assert all(s.metadata and s.type == "realtime" and s.group for s in services)
    assert all(catalogue.SAFE_CODE.match(s.service_code) for s in services)


def test_a_category_outside_the_catalogue_still_has_a_reversible_code():
    catalogue = Catalogue((CategoryService("环境卫生", "env", "环境卫生", "", "市容环境"),))
    assert catalogue.code_of("环境卫生") == "env"
    assert catalogue.category_of("env") == "环境卫生"
    assert catalogue.code_of("potholes") == "potholes"
    assert catalogue.category_of("potholes") == "potholes"
    code = catalogue.code_of("安全隐患")
    assert code == "c-" + "安全隐患".encode().hex()
    assert catalogue.category_of(code) == "安全隐患"
    assert catalogue.code_of("a/b.c") == "c-" + b"a/b.c".hex()
    assert catalogue.category_of("c-zz") is None
    assert catalogue.offered("potholes") is None  # only the catalogue's may be POSTed


def test_a_catalogue_refuses_codes_unfit_for_a_url_path_and_doubles():
    with pytest.raises(ValueError, match="path safe"):
        CategoryService("x", "a.b", "x", "", "g")
    with pytest.raises(ValueError, match="path safe"):
        CategoryService("x", "环境", "x", "", "g")
    twice = CategoryService("x", "x", "x", "", "g")
    with pytest.raises(ValueError, match="its own code"):
        Catalogue((twice, twice))


def test_a_service_definition_asks_for_the_grid_and_offers_the_priority(policy):
    definition = DEFAULT_CATALOGUE.definition("safety_hazard", policy)
    by_code = {a.code: a for a in definition.attributes}
    assert [a.code for a in definition.attributes] == ["grid", "priority", "deadlines"]
    assert by_code["grid"].required and by_code["grid"].datatype == "string"
    assert [v.key for v in by_code["priority"].values] == ["normal", "urgent"]
    assert by_code["deadlines"].variable is False
    assert by_code["deadlines"].description == "1 小时内响应，24 小时内办结（紧急：4 小时）"
    with pytest.raises(Open311Error) as missing:
        DEFAULT_CATALOGUE.definition("potholes", policy)
    assert missing.value.status == 404


def test_a_ticket_becomes_a_service_request(policy):
    row = ticket_row(status="dispatched", level="grid", assignee="grid-worker-17",
                     updated_at=REPORTED_AT + timedelta(minutes=20))  # fmt: skip
    request = ticket_to_request(row, DEFAULT_CATALOGUE, policy, disclose=True)
    assert request.service_request_id == "0b7c5d9e-3f51-4a8e-9d5c-2f1a4e6b7c80"
    assert request.status == "open"
    assert request.service_code == "sanitation" and request.service_name == "环境卫生"
    assert request.agency_responsible == "网格：grid-worker-17"
    assert request.service_notice == "1 小时内响应，72 小时内办结"
    assert request.requested_datetime == REPORTED_AT
    assert request.expected_datetime == REPORTED_AT + timedelta(hours=72)
    assert (request.address, request.lat, request.long) == ("北环路 3 号", 39.93, 119.6)
    assert request.address_id == "HG-WH-BH-01"  # the grid is the jurisdiction's address unit
    assert request.extended_attributes is None and request.notes is None
    (rendered,) = json.loads(render_service_requests([request], Format.JSON).body)
    assert rendered["requested_datetime"] == "2026-03-01T08:00:00Z"
    assert rendered["updated_datetime"] == "2026-03-01T08:20:00Z"


def test_a_request_shows_what_a_resident_wrote_only_where_it_is_disclosed(policy):
    member_report = ticket_row()
    hotline_report = ticket_row(reporter_member_id=None, source="hotline")
    assert not discloses(member_report, keyed=True)
    assert not discloses(hotline_report, keyed=False)
    assert discloses(hotline_report, keyed=True)
    hidden = ticket_to_request(member_report, DEFAULT_CATALOGUE, policy)
    assert (hidden.description, hidden.address, hidden.lat, hidden.long) == (None,) * 4
    assert hidden.address_id == "HG-WH-BH-01" and hidden.status_notes == "已上报，待受理"
    for fmt in Format:
        body = render_service_requests([hidden], fmt).body.decode()
        assert "楼道堆物" not in body and "北环路" not in body and "39.93" not in body


def test_a_ticket_without_location_has_no_address_and_a_rejected_one_no_expectation(policy):
    request = ticket_to_request(
        ticket_row(location=None, status="rejected", rejection_reason="invalid"),
        DEFAULT_CATALOGUE,
        policy,
    )
    assert request.status == "closed"
    assert (request.address, request.lat, request.long) == (None, None, None)
    assert request.expected_datetime is None


TIMELINE = [
    {"event_type": "Reported", "recorded_at": REPORTED_AT, "occurred_at": None, "details": {}},
    {"event_type": "Dispatched", "recorded_at": REPORTED_AT, "occurred_at": None,
     "details": {"level": "grid", "assignee": "gw"}},
    {"event_type": "Supervised", "recorded_at": REPORTED_AT, "occurred_at": None,
     "details": {"note": "内部督办：限今日办结"}},
    {"event_type": "Escalated", "recorded_at": REPORTED_AT, "occurred_at": None,
     "details": {"from_level": "grid", "to_level": "street", "reason": "需要城管执法"}},
    {"event_type": "Resolved", "recorded_at": REPORTED_AT + timedelta(hours=3),
     "occurred_at": None, "details": {"resolution": "堆物已清理"}},
    {"event_type": "Rated", "recorded_at": REPORTED_AT, "occurred_at": None,
     "details": {"satisfaction": "satisfied", "comment": "隔壁老王又堆了"}},
    {"event_type": "Visited", "recorded_at": REPORTED_AT, "occurred_at": None,
     "details": {"note": "居民电话 13800000000"}},
]  # fmt: skip


def test_the_notes_extension_keeps_internal_text_out():
    notes = timeline_notes(TIMELINE)
    assert [n.type for n in notes] == [
        "opened", "activity", "activity", "activity", "closed", "activity", "activity"
    ]  # fmt: skip
    assert [n.summary for n in notes] == [
        "上报",
        "派单",
        "督办",
        "上报升级",
        "办结",
        "评价",
        "回访",
    ]
    described = {n.summary: n.description for n in notes}
    assert described["派单"] == "网格：gw"
    assert described["上报升级"] == "街道：需要城管执法"
    assert described["办结"] == "堆物已清理"
    assert described["评价"] == "satisfied"
    assert described["督办"] is None and described["回访"] is None
    assert notes[4].datetime == REPORTED_AT + timedelta(hours=3)


def test_extensions_add_the_ticket_details_and_never_the_reporter(policy):
    row = ticket_row(status="rejected", rejection_reason="duplicate", duplicate_of=UUID(int=5),
                     rating_comment="私密评价")  # fmt: skip
    request = ticket_to_request(row, DEFAULT_CATALOGUE, policy, extensions=True,
                                timeline=TIMELINE)  # fmt: skip
    extended = request.extended_attributes
    assert extended["ticket_status"] == "rejected"
    assert extended["duplicate"] is True
    assert extended["parent_service_request_id"] == str(UUID(int=5))
    assert extended["channel"] == "resident" and extended["grid"] == "HG-WH-BH-01"
    assert len(request.notes) == len(TIMELINE)
    for fmt in Format:
        body = render_service_requests([request], fmt, extensions=True).body.decode()
        assert "5f0c2a10-0000-4000-8000-00000000beef" not in body  # reporter_member_id
        for secret in ("私密评价", "隔壁老王", "13800000000", "内部督办"):
            assert secret not in body


NOW = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)


def query(**params):
    return parse_requests_query(list(params.items()), DEFAULT_CATALOGUE, now=NOW)


def test_requests_default_to_the_last_90_days_at_most_1000():
    default = query()
    assert (default.start, default.end) == (NOW - timedelta(days=90), NOW)
    assert default.limit == 1000 and default.offset == 0
    assert (default.categories, default.statuses, default.ids) == (None, None, None)


def test_an_empty_parameter_is_an_absent_one():
    assert query(status="", service_code="", start_date="", jurisdiction_id="") == query()


def test_one_date_takes_the_90_days_beside_it():
    after = query(start_date="2026-01-01T00:00:00Z")
    assert after.end == datetime(2026, 4, 1, tzinfo=UTC)
    before = query(end_date="2026-01-01T08:00:00+08:00")
    assert before.end == datetime(2026, 1, 1, tzinfo=UTC)
    assert before.start == datetime(2025, 10, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "after"),
        ({"start_date": "2026-01-01"}, "W3C"),
        ({"start_date": "2026-01-01T00:00:00"}, "W3C"),
        ({"start_date": "1900-01-01T00:00:00Z"}, "1970"),
        ({"status": "open,pending"}, "open or closed"),
        ({"service_request_id": "not-an-id"}, "request ids"),
        ({"page_size": "1001"}, "page_size"),
        ({"page": "0"}, "page"),
        ({"jurisdiction_id": "a,b"}, "one value"),
        # Review: each of these was a 500 (int("²"), int of 5,000 digits, astimezone
        # beyond the calendar).
        ({"page": "\u00b2"}, "page"),
        ({"page_size": "\u0663"}, "page_size"),
        ({"page": "9" * 5000}, "page"),
        ({"start_date": "0001-01-01T00:00:00+01:00"}, "W3C"),
        ({"end_date": "9999-12-31T23:59:59-01:00"}, "W3C"),
    ],
)
def test_a_filter_it_cannot_read_is_a_400(params, message):
    with pytest.raises(Open311Error, match=message) as refused:
        query(**params)
    assert refused.value.status == 400 and refused.value.code == 400


def test_status_and_service_code_are_lists_comma_delimited_or_repeated():
    pairs = [("status", "closed"), ("service_code", "sanitation,noise"),
             ("service_code", "c-" + "安全隐患".encode().hex())]  # fmt: skip
    parsed = parse_requests_query(pairs, DEFAULT_CATALOGUE, now=NOW)
    assert parsed.statuses == ("rejected", "resolved", "closed")
    assert parsed.categories == ("sanitation", "noise", "安全隐患")
    assert query(status="open,closed").statuses == mapping.STATUSES


def test_a_service_code_naming_a_nul_category_matches_nothing():
    # Review: `c-00` decoded to "\x00", which PostgreSQL refused (a problem+json 422).
    assert DEFAULT_CATALOGUE.category_of("c-00") is None
    assert query(service_code="c-00,noise").categories == ("noise",)


def test_service_request_ids_override_every_other_argument():
    ids = f"{UUID(int=1)},{UUID(int=2)},{UUID(int=1)}"
    parsed = query(service_request_id=ids, status="bogus", start_date="junk",
                   jurisdiction_id="HG", extensions="true")  # fmt: skip
    assert parsed.ids == (UUID(int=1), UUID(int=2))
    assert parsed.extensions is True and parsed.jurisdiction is None
    assert parsed.filters() == (("id = ANY(%s)", [UUID(int=1), UUID(int=2)]),)


def test_the_query_gives_filters_for_the_tickets_table():
    parsed = query(service_code="noise", status="open", jurisdiction_id="HG-WH",
                   page="3", page_size="50")  # fmt: skip
    assert dict(parsed.filters()) == {
        "grid_path @> ARRAY[%s]::text[]": "HG-WH",
        "category = ANY(%s)": ["noise"],
        "reported_at >= %s": NOW - timedelta(days=90),
        "reported_at <= %s": NOW,
        "status = ANY(%s)": ["reported", "accepted", "dispatched", "responded"],
    }
    assert (parsed.limit, parsed.offset) == (50, 100)
    assert dict(query().filters())["category = ANY(%s)"] is None


def test_w3c_datetimes_are_read_with_their_zone():
    assert parse_w3c("2010-01-01T00:00:00Z") == datetime(2010, 1, 1, tzinfo=UTC)
    assert parse_w3c("2010-01-01T08:00+08:00") == datetime(2010, 1, 1, tzinfo=UTC)
    assert parse_w3c("2010-01-01T00:00:00.5Z").microsecond == 500000


FORM = [
    ("api_key", "token"), ("jurisdiction_id", "HG"), ("service_code", "sanitation"),
    ("lat", "39.93"), ("long", "119.6"), ("address_string", "北环路 3 号"),
    ("email", "someone@example.invalid"), ("first_name", "john"), ("phone", "111"),
    ("description", "楼道堆物"), ("attribute[grid]", "HG-WH-BH-01"),
    ("attribute[priority]", "urgent"), ("attribute[unknown][]", "a"),
    ("attribute[unknown][]", "b"),
]  # fmt: skip


def post(form, source="resident"):
    return parse_post_form(form, DEFAULT_CATALOGUE, source=source)


def test_a_post_form_becomes_a_ticket_report():
    assert post(FORM) == {
        "category": "sanitation",
        "description": "楼道堆物",
        "grid": "HG-WH-BH-01",
        "location": {"address": "北环路 3 号", "lat": 39.93, "lon": 119.6},
        "source": "resident",
        "priority": "urgent",
    }


def test_a_post_may_name_the_grid_as_address_id_and_its_source_is_the_clients():
    form = [("service_code", "noise"), ("address_id", "G1"), ("description", "广场舞"),
            ("attribute[source]", "grid_worker"), ("account_id", "abc")]  # fmt: skip
    report = post(form, source="hotline")
    assert (report["grid"], report["source"], report["priority"]) == ("G1", "hotline", "normal")
    assert report["location"] is None and "account_id" not in report


def test_an_address_without_coordinates_is_kept_in_the_description():
    form = [("service_code", "noise"), ("address_id", "G1"), ("description", "广场舞"),
            ("address_string", "北环路 3 号")]  # fmt: skip
    assert post(form)["description"] == "[北环路 3 号] 广场舞"
    coordinates_only = [("service_code", "noise"), ("address_id", "G1"), ("description", "x"),
                        ("lat", "1.5"), ("long", "2")]  # fmt: skip
    assert post(coordinates_only)["location"] == {"address": "1.500000,2.000000", "lat": 1.5,
                                                  "lon": 2.0}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"service_code": None}, 400, "service_code was not provided"),
        ({"service_code": "potholes"}, 404, "not found"),
        ({"attribute[grid]": None}, 400, "attribute\\[grid\\]"),
        ({"attribute[grid]": "bad code!"}, 400, "grid code"),
        ({"attribute[priority]": "high"}, 400, "priority"),
        ({"description": " "}, 400, "description was not provided"),
        ({"description": "x" * 2001}, 400, "2000"),
        ({"long": None}, 400, "both"),
        ({"lat": "north"}, 400, "numbers"),
        ({"lat": "91"}, 400, "-90 to 90"),
        ({"lat": "nan"}, 400, "-90 to 90"),
        ({"address_id": "OTHER"}, 400, "different grids"),
        # Review: a NUL recorded in the location stopped every projection for good.
        ({"address_string": "北环路\x003 号"}, 400, "address_string must not contain NUL"),
        ({"description": "楼道\x00堆物"}, 400, "description must not contain NUL"),
    ],
)
def test_a_post_form_it_cannot_take_is_refused(change, status, message):
    form = dict(FORM)
    for key, value in change.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    with pytest.raises(Open311Error, match=message) as refused:
        post(list(form.items()))
    assert refused.value.status == status


def test_an_attribute_given_twice_is_refused():
    with pytest.raises(Open311Error, match="one value"):
        post([*FORM, ("attribute[priority]", "normal")])


def test_rejections_and_missed_deadlines_read_as_words_and_w3c_times():
    entries = [
        {"event_type": "Rejected", "recorded_at": REPORTED_AT, "occurred_at": None,
         "details": {"reason": "duplicate", "duplicate_of": str(UUID(int=4))}},
        {"event_type": "ResponseOverdue", "recorded_at": REPORTED_AT, "occurred_at": None,
         "details": {"due_at": "2026-03-01T09:00:00.250000+00:00"}},
        {"event_type": "SomethingNew", "recorded_at": REPORTED_AT, "occurred_at": None},
    ]  # fmt: skip
    rejected, overdue, unknown = timeline_notes(entries)
    assert (rejected.type, rejected.description) == (
        "closed",
        f"不予受理：与事项 {UUID(int=4)} 重复",
    )
    assert overdue.description == "2026-03-01T09:00:00Z"
    assert (unknown.type, unknown.summary, unknown.description) == (
        "activity",
        "SomethingNew",
        None,
    )
    (invalid,) = timeline_notes(
        [{"event_type": "Rejected", "recorded_at": REPORTED_AT, "details": {"reason": "invalid"}}],
        "en",
    )
    assert invalid.description == "Not accepted: invalid report"


def test_a_deployment_names_its_own_services(monkeypatch):
    assert catalogue_of(Settings(_env_file=None)) is DEFAULT_CATALOGUE
    services = [
        {"category": "环境卫生", "code": "sanitation", "name": "环境卫生", "group": "市容"},
        {"category": "噪音扰民", "code": "noise", "name": "噪音扰民", "keywords": ["夜间施工"]},
    ]
    monkeypatch.setenv("GRIDLEDGER_OPEN311_SERVICES", json.dumps(services, ensure_ascii=False))
    offered = catalogue_of(Settings(_env_file=None))
    assert offered.code_of("环境卫生") == "sanitation"
    assert offered.category_of("noise") == "噪音扰民"
    assert [s.keywords for s in offered.service_list()] == [None, ("夜间施工",)]
    with pytest.raises(ValueError, match="its own code"):
        catalogue_of(Settings(_env_file=None, open311_services=[services[0], services[0]]))
    with pytest.raises(ValueError):
        Settings(_env_file=None, open311_services=[{**services[0], "code": "a/b"}])
