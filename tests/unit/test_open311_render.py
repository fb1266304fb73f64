"""The documents of GeoReport v2, as the spec's examples show them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from uuid import UUID

import pytest
from lxml import etree

from api.http.open311.render import (
    JSON_MEDIA_TYPE,
    XML_MEDIA_TYPE,
    Attribute,
    AttributeValue,
    Discovery,
    Endpoint,
    Error,
    Format,
    Note,
    PostResult,
    Service,
    ServiceDefinition,
    ServiceRequest,
    TokenResult,
    render_discovery,
    render_errors,
    render_post_results,
    render_service_definition,
    render_service_request,
    render_service_requests,
    render_services,
    render_tokens,
    w3c,
)

DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
AT = datetime(2010, 4, 14, 14, 37, 38, tzinfo=UTC)


def xml(rendered):
    assert rendered.media_type == XML_MEDIA_TYPE
    assert rendered.body.startswith(DECLARATION)
    return etree.fromstring(rendered.body)  # strict: refuses anything malformed


def js(rendered):
    assert rendered.media_type == JSON_MEDIA_TYPE
    return json.loads(rendered.body.decode("utf-8"))


def children(element):
    return [child.tag for child in element]


SERVICES = [
    Service("001", "Cans left out 24x7", "Garbage or recycling cans", True, "realtime",
            ["lorem", "ipsum", "dolor"], "sanitation"),
    {"service_code": "002", "service_name": "Construction plate shifted", "metadata": False,
     "type": "batch", "keywords": "a, b", "group": "street"},
]  # fmt: skip


def test_the_service_list_in_json_is_a_list_of_services_with_string_codes():
    services = js(render_services(SERVICES, Format.JSON))
    assert services[0] == {
        "service_code": "001",
        "service_name": "Cans left out 24x7",
        "description": "Garbage or recycling cans",
        "metadata": True,
        "type": "realtime",
        "keywords": "lorem, ipsum, dolor",
        "group": "sanitation",
    }
    assert services[1]["description"] is None
    assert services[1]["metadata"] is False


def test_the_service_list_in_xml_is_services_of_service_elements_in_the_spec_order():
    root = xml(render_services(SERVICES, Format.XML))
    assert root.tag == "services"
    assert children(root) == ["service", "service"]
    assert children(root[0]) == [
        "service_code", "service_name", "description", "metadata", "type", "keywords", "group"
    ]  # fmt: skip
    assert root[0].findtext("metadata") == "true"
    assert root[1].findtext("metadata") == "false"
    assert root[1].find("description").text is None  # a missing value: an empty element


def test_an_empty_service_list_is_an_empty_array_and_an_empty_element():
    assert js(render_services([], Format.JSON)) == []
    assert children(xml(render_services([], Format.XML))) == []


def test_a_service_type_outside_the_spec_is_refused():
    with pytest.raises(ValueError, match="realtime, batch or blackbox"):
        render_services([Service("1", "x", type="instant")], Format.JSON)


def test_text_is_escaped_in_xml_and_kept_as_unicode_in_json():
    name = "<b>&amp; \"quotes\" 'and' 环境卫生</b>"
    service = Service("x1", name, description="]]> <![CDATA[ x ]]>")
    root = xml(render_services([service], Format.XML))
    assert root[0].findtext("service_name") == name
    assert root[0].findtext("description") == "]]> <![CDATA[ x ]]>"
    body = render_services([service], Format.JSON).body
    assert "环境卫生".encode() in body  # not \u-escaped
    assert js(render_services([service], Format.JSON))[0]["service_name"] == name


def test_characters_xml_cannot_hold_become_replacement_characters():
    service = Service("x1", "bell\x07 tab\t vt\x0b esc\x1b ffff\uffff", "line\nbreak\r\n")
    root = xml(render_services([service], Format.XML))
    assert root[0].findtext("service_name") == "bell\ufffd tab\t vt\ufffd esc\ufffd ffff\ufffd"
    assert js(render_services([service], Format.JSON))[0]["service_name"].startswith("bell\x07")


DEFINITION = ServiceDefinition(
    "DMV66",
    [
        Attribute("NOTE", "string", "Read this first", order=2, variable=False),
        Attribute(
            "WHISHETN", "singlevaluelist", "What is the ticket/tag/DL number?", order=1,
            required=True,
            values=[AttributeValue("123", "Ford"), {"key": "124", "name": "Chrysler"}],
        ),
    ],
)  # fmt: skip


def test_a_service_definition_in_json_lists_its_attributes_by_order():
    definition = js(render_service_definition(DEFINITION, Format.JSON))
    assert definition["service_code"] == "DMV66"
    first, second = definition["attributes"]
    assert first == {
        "variable": True,
        "code": "WHISHETN",
        "datatype": "singlevaluelist",
        "required": True,
        "datatype_description": None,
        "order": 1,
        "description": "What is the ticket/tag/DL number?",
        "values": [{"key": "123", "name": "Ford"}, {"key": "124", "name": "Chrysler"}],
    }
    assert second["variable"] is False
    assert "values" not in second  # values belong to the list datatypes


def test_a_service_definition_in_xml_nests_attributes_attribute_values_value():
    root = xml(render_service_definition(DEFINITION, Format.XML))
    assert root.tag == "service_definition"
    assert children(root) == ["service_code", "attributes"]
    attribute = root.find("attributes")[0]
    assert children(root.find("attributes")) == ["attribute", "attribute"]
    assert children(attribute) == [
        "variable", "code", "datatype", "required", "datatype_description", "order",
        "description", "values",
    ]  # fmt: skip
    assert [v.findtext("name") for v in attribute.find("values")] == ["Ford", "Chrysler"]
    assert children(attribute.find("values")) == ["value", "value"]
    assert attribute.findtext("order") == "1"


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ([Attribute("a", "string", "x", order=1), Attribute("b", "string", "y", order=1)],
         "distinct positive"),
        ([Attribute("a", "string", "x", order=0)], "distinct positive"),
        ([Attribute("a", "singlevaluelist", "x", order=1)], "lists its values"),
        ([Attribute("a", "boolean", "x", order=1)], "datatype"),
    ],
)  # fmt: skip
def test_a_service_definition_the_spec_does_not_allow_is_refused(attributes, message):
    with pytest.raises(ValueError, match=message):
        render_service_definition(ServiceDefinition("X", attributes), Format.XML)


REQUEST = ServiceRequest(
    service_request_id="638344",
    status="closed",
    status_notes="Duplicate request.",
    service_name="Sidewalk and Curb Issues",
    service_code="006",
    requested_datetime=AT,
    updated_datetime=AT,
    expected_datetime=AT + timedelta(days=1),
    address="8TH AVE and JUDAH ST",
    address_id="545483",
    lat=37.762221815,
    long=-122.4651145,
    extended_attributes={"channel": "android", "photos": [{"title": "Submitted"}]},
    notes=[Note(AT, "opened", "Request opened", None)],
)

STANDARD = [
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url",
]  # fmt: skip


def test_service_requests_in_json_carry_every_standard_field_and_w3c_times():
    (request,) = js(render_service_requests([REQUEST], Format.JSON))
    assert list(request) == STANDARD
    assert request["requested_datetime"] == "2010-04-14T14:37:38Z"
    assert request["expected_datetime"] == "2010-04-15T14:37:38Z"
    assert request["lat"] == 37.762221815 and request["long"] == -122.4651145
    assert request["description"] is None and request["media_url"] is None


def test_service_requests_in_xml_are_request_elements_in_the_spec_order():
    root = xml(render_service_requests([REQUEST, REQUEST], Format.XML))
    assert root.tag == "service_requests"
    assert children(root) == ["request", "request"]
    assert children(root[0]) == STANDARD
    assert root[0].findtext("status_notes") == "Duplicate request."
    assert root[0].findtext("long") == "-122.4651145"
    assert root[0].find("zipcode").text is None


def test_the_extension_fields_are_written_only_when_asked_for():
    plain = js(render_service_requests([REQUEST], Format.JSON))[0]
    assert "extended_attributes" not in plain and "notes" not in plain
    extended = js(render_service_requests([REQUEST], Format.JSON, extensions=True))[0]
    assert list(extended) == [*STANDARD, "extended_attributes", "notes"]
    assert extended["extended_attributes"] == {
        "channel": "android", "photos": [{"title": "Submitted"}]
    }  # fmt: skip
    assert extended["notes"] == [
        {"datetime": "2010-04-14T14:37:38Z", "type": "opened", "summary": "Request opened",
         "description": None}
    ]  # fmt: skip


def test_the_extension_fields_in_xml_nest_as_elements():
    root = xml(render_service_requests([REQUEST], Format.XML, extensions=True))
    request = root[0]
    assert children(request)[-2:] == ["extended_attributes", "notes"]
    assert request.findtext("extended_attributes/channel") == "android"
    assert request.findtext("extended_attributes/photos/photo/title") == "Submitted"
    assert children(request.find("notes")) == ["note"]
    assert request.findtext("notes/note/type") == "opened"


def test_extensions_asked_for_but_absent_are_an_empty_object_and_list():
    bare = ServiceRequest("1", "open", "001", AT)
    request = js(render_service_requests([bare], Format.JSON, extensions=True))[0]
    assert request["extended_attributes"] == {} and request["notes"] == []


def test_an_extended_attribute_that_cannot_be_an_element_name_is_refused():
    bad = ServiceRequest("1", "open", "001", AT, extended_attributes={"2nd": 1})
    with pytest.raises(ValueError, match="element name"):
        render_service_requests([bad], Format.XML, extensions=True)


def test_a_status_other_than_open_or_closed_is_refused():
    with pytest.raises(ValueError, match="open or closed"):
        render_service_requests([ServiceRequest("1", "dispatched", "001", AT)], Format.JSON)


def test_one_service_request_is_a_list_of_one():
    assert len(js(render_service_request(REQUEST, Format.JSON))) == 1
    assert children(xml(render_service_request(REQUEST, Format.XML))) == ["request"]


def test_requests_given_as_mappings_with_ids_and_enums_render_the_same():
    class Open311Status(StrEnum):
        OPEN = "open"

    mapping = {
        "service_request_id": UUID(int=1),
        "status": Open311Status.OPEN,
        "service_code": "001",
        "requested_datetime": AT,
    }
    (request,) = js(render_service_requests([mapping], Format.JSON))
    assert request["service_request_id"] == "00000000-0000-0000-0000-000000000001"
    assert request["status"] == "open"
    assert xml(render_service_requests([mapping], Format.XML))[0].findtext("status") == "open"


def test_a_post_answers_the_new_id_notice_and_account():
    results = [PostResult(service_request_id="293944", service_notice="We will inspect")]
    assert js(render_post_results(results, Format.JSON)) == [
        {"service_request_id": "293944", "service_notice": "We will inspect", "account_id": None}
    ]
    root = xml(render_post_results(results, Format.XML))
    assert root.tag == "service_requests"
    assert children(root[0]) == ["service_request_id", "service_notice", "account_id"]
    assert b"<account_id />" in render_post_results(results, Format.XML).body


def test_a_batch_post_answers_a_token_instead_of_an_id():
    answer = js(render_post_results([PostResult(token="12345")], Format.JSON))
    assert answer == [{"token": "12345", "service_notice": None, "account_id": None}]
    with pytest.raises(ValueError, match="not both"):
        PostResult(service_request_id="1", token="2")
    with pytest.raises(ValueError, match="not both"):
        render_post_results([{"service_notice": "x"}], Format.JSON)


def test_a_token_lookup_answers_the_id_and_the_token():
    root = xml(render_tokens([TokenResult("638344", "12345")], Format.XML))
    assert root.tag == "service_requests"
    assert children(root[0]) == ["service_request_id", "token"]
    assert js(render_tokens([TokenResult(None, "1")], Format.JSON)) == [
        {"service_request_id": None, "token": "1"}
    ]


def test_errors_are_a_list_of_code_and_description():
    errors = [Error(403, "Invalid api_key received -- can't proceed with create_request.")]
    assert js(render_errors(errors, Format.JSON)) == [
        {
            "code": 403,
            "description": "Invalid api_key received -- can't proceed with create_request.",
        }
    ]
    root = xml(render_errors([*errors, {"code": "grid", "description": "<no grid>"}], Format.XML))
    assert root.tag == "errors"
    assert children(root) == ["error", "error"]
    assert children(root[0]) == ["code", "description"]
    assert root[1].findtext("description") == "<no grid>"
    with pytest.raises(ValueError):
        render_errors([], Format.JSON)


def test_discovery_lists_the_endpoints_and_their_formats():
    discovery = Discovery(
        "2026-03-01T00:00:00Z", "grid office", "ask the district for a token",
        [Endpoint("https://example.invalid/open311/v2", "2026-03-01T00:00:00Z")],
    )  # fmt: skip
    document = js(render_discovery(discovery, Format.JSON))
    assert document["endpoints"][0]["formats"] == ["text/xml", "application/json"]
    assert document["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    root = xml(render_discovery(discovery, Format.XML))
    assert children(root) == ["changeset", "contact", "key_service", "endpoints"]
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == [
        "text/xml", "application/json"
    ]  # fmt: skip
    assert children(root.find("endpoints/endpoint/formats")) == ["format", "format"]


def test_w3c_times_are_to_the_second_with_their_zone():
    moment = datetime(2026, 3, 1, 8, 0, 0, 999999, tzinfo=UTC)
    assert w3c(moment) == "2026-03-01T08:00:00Z"
    assert w3c(moment, timezone(timedelta(hours=8))) == "2026-03-01T16:00:00+08:00"
    assert w3c(datetime(1994, 11, 5, 8, 15, 30, tzinfo=timezone(-timedelta(hours=5)))) == (
        "1994-11-05T13:15:30Z"
    )
    with pytest.raises(ValueError, match="time zone"):
        w3c(datetime(2026, 3, 1))


def test_numbers_must_be_finite():
    with pytest.raises(ValueError, match="finite"):
        render_service_requests(
            [ServiceRequest("1", "open", "1", AT, lat=float("nan"))], Format.XML
        )


def test_the_format_names_its_media_type():
    assert Format("json").media_type == "application/json; charset=utf-8"
    assert Format("xml").media_type == "text/xml; charset=utf-8"
    with pytest.raises(ValueError):
        Format("html")
