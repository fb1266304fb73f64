"""Open311 GeoReport v2 documents, as JSON and XML bytes: pure functions, no I/O.

Each `render_*` function takes plain values (the dataclasses below, or mappings with
the same keys) and a `Format`, and answers a `Rendered`: the body and its media type.

    render_services            GET services.{fmt}               [service, ...]
    render_service_definition  GET services/{code}.{fmt}        {service_code, attributes}
    render_service_requests    GET requests.{fmt}               [request, ...]
    render_service_request     GET requests/{id}.{fmt}          [request]  (one element)
    render_post_results        POST requests.{fmt}              [{service_request_id|token,
                                                                  service_notice, account_id}]
    render_tokens              GET tokens/{token}.{fmt}         [{service_request_id, token}]
    render_errors              any error                        [{code, description}]
    render_discovery           GET discovery.{fmt}              {changeset, ..., endpoints}

JSON follows the spec's Spark convention: a container element becomes an array, a
missing value is `null`. XML has the declaration `<?xml version="1.0" encoding="utf-8"?>`,
no namespace, the element names of the spec (services/service,
service_definition/attributes/attribute/values/value, service_requests/request,
errors/error, discovery/endpoints/endpoint/formats/format), an empty element for a
missing value, and `true`/`false` for booleans. Text is escaped by ElementTree; the
characters XML 1.0 cannot hold at all (control characters other than tab, newline and
carriage return) become U+FFFD, so every document parses.

The extension fields of a service request (`attributes`, `extended_attributes`, `notes`:
the "GeoReport v2 Extensions" page, `extensions=true`) are written only when the
caller passes `extensions=True`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any
from uuid import UUID

JSON_MEDIA_TYPE = "application/json; charset=utf-8"
XML_MEDIA_TYPE = "text/xml; charset=utf-8"
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'


class Format(StrEnum):
    """The suffix of an Open311 resource: `services.json`, `services.xml`."""

    JSON = "json"
    XML = "xml"

    @property
    def media_type(self) -> str:
        return JSON_MEDIA_TYPE if self is Format.JSON else XML_MEDIA_TYPE


@dataclass(frozen=True)
class Rendered:
    """A document: its UTF-8 bytes and the Content-Type to send them with."""

    body: bytes
    media_type: str


# The documents' parts, in the spec's field order (the XML keeps it).


@dataclass(frozen=True)
class Service:
    service_code: str
    service_name: str
    description: str | None = None
    metadata: bool = False
    type: str = "realtime"
    keywords: str | Sequence[str] | None = None
    """A comma separated list; a sequence is joined with ", "."""
    group: str | None = None


@dataclass(frozen=True)
class AttributeValue:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str
    """string | number | datetime | text | singlevaluelist | multivaluelist"""
    description: str
    order: int
    required: bool = False
    variable: bool = True
    datatype_description: str | None = None
    values: Sequence[AttributeValue] = ()


@dataclass(frozen=True)
class ServiceDefinition:
    service_code: str
    attributes: Sequence[Attribute]


@dataclass(frozen=True)
class Note:
    """One entry of the `notes` extension (the request's update history)."""

    datetime: datetime | str
    type: str
    summary: str
    description: str | None = None


@dataclass(frozen=True)
class ServiceRequest:
    service_request_id: str
    status: str
    """open | closed"""
    service_code: str
    requested_datetime: datetime | str
    status_notes: str | None = None
    service_name: str | None = None
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    updated_datetime: datetime | str | None = None
    expected_datetime: datetime | str | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None
    # Extensions, written only with extensions=True:
    extended_attributes: Mapping[str, Any] | None = None
    notes: Sequence[Note] | None = None


@dataclass(frozen=True)
class PostResult:
    """What POST requests answers: a service_request_id (realtime) or a token (batch)."""

    service_request_id: str | None = None
    token: str | None = None
    service_notice: str | None = None
    account_id: str | None = None

    def __post_init__(self) -> None:
        if (self.service_request_id is None) == (self.token is None):
            raise ValueError("a POST result has a service_request_id or a token, not both")


@dataclass(frozen=True)
class TokenResult:
    service_request_id: str | None
    token: str


@dataclass(frozen=True)
class Error:
    code: int | str
    """Usually the HTTP status; the spec allows a more specific code."""
    description: str


@dataclass(frozen=True)
class Endpoint:
    url: str
    changeset: str
    type: str = "production"
    formats: Sequence[str] = (XML_MEDIA_TYPE.split(";")[0], JSON_MEDIA_TYPE.split(";")[0])
    specification: str = "http://wiki.open311.org/GeoReport_v2"


@dataclass(frozen=True)
class Discovery:
    changeset: str
    contact: str
    key_service: str
    endpoints: Sequence[Endpoint] = field(default_factory=tuple)


SERVICE_FIELDS = tuple(f.name for f in dataclasses.fields(Service))
ATTRIBUTE_FIELDS = (
    "variable", "code", "datatype", "required", "datatype_description", "order",
    "description", "values",
)  # fmt: skip
REQUEST_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url",
)  # fmt: skip
EXTENSION_FIELDS = ("attributes", "extended_attributes", "notes")
"""A request's fields from the Extensions page (`extensions=true`)."""
NOTE_FIELDS = ("datetime", "type", "summary", "description")
ENDPOINT_FIELDS = ("specification", "url", "changeset", "type", "formats")
DISCOVERY_FIELDS = ("changeset", "contact", "key_service", "endpoints")

CHILD = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "notes": "note",
    "endpoints": "endpoint",
    "formats": "format",
    "photos": "photo",
}
"""The element each item of a container takes in XML."""


# Public renderers.


def render_services(services: Iterable[Service | Mapping[str, Any]], fmt: Format) -> Rendered:
    items = [_service(s) for s in services]
    return _render("services", items, fmt)


def render_service_definition(
    definition: ServiceDefinition | Mapping[str, Any], fmt: Format
) -> Rendered:
    raw = _fields(definition, ("service_code", "attributes"))
    attributes = sorted((_attribute(a) for a in raw["attributes"] or ()), key=_order)
    orders = [a["order"] for a in attributes]
    if len(set(orders)) != len(orders) or any(not isinstance(o, int) or o < 1 for o in orders):
        raise ValueError("each attribute's order must be a distinct positive integer")
    return _render(
        "service_definition", {"service_code": raw["service_code"], "attributes": attributes}, fmt
    )


def render_service_requests(
    requests: Iterable[ServiceRequest | Mapping[str, Any]],
    fmt: Format,
    *,
    extensions: bool = False,
) -> Rendered:
    items = [_request(r, extensions) for r in requests]
    return _render("service_requests", items, fmt)


def render_service_request(
    request: ServiceRequest | Mapping[str, Any], fmt: Format, *, extensions: bool = False
) -> Rendered:
    """GET requests/{id}: the spec answers a list of exactly one request."""
    return render_service_requests([request], fmt, extensions=extensions)


def render_post_results(results: Iterable[PostResult | Mapping[str, Any]], fmt: Format) -> Rendered:
    items = []
    for result in results:
        raw = _fields(result, ("service_request_id", "token", "service_notice", "account_id"))
        if (raw["service_request_id"] is None) == (raw["token"] is None):
            raise ValueError("a POST result has a service_request_id or a token, not both")
        key = "service_request_id" if raw["service_request_id"] is not None else "token"
        items.append(
            {
                key: raw[key],
                "service_notice": raw["service_notice"],
                "account_id": raw["account_id"],
            }
        )
    return _render("service_requests", items, fmt)


def render_tokens(results: Iterable[TokenResult | Mapping[str, Any]], fmt: Format) -> Rendered:
    items = [_fields(r, ("service_request_id", "token")) for r in results]
    return _render("service_requests", items, fmt)


def render_errors(errors: Iterable[Error | Mapping[str, Any]], fmt: Format) -> Rendered:
    items = [_fields(e, ("code", "description")) for e in errors]
    if not items:
        raise ValueError("an error document names at least one error")
    return _render("errors", items, fmt)


def render_discovery(discovery: Discovery | Mapping[str, Any], fmt: Format) -> Rendered:
    raw = _fields(discovery, DISCOVERY_FIELDS)
    raw["endpoints"] = [_fields(e, ENDPOINT_FIELDS) for e in raw["endpoints"] or ()]
    return _render("discovery", raw, fmt)


def w3c(value: datetime, tz: timezone | None = None) -> str:
    """`value` in the spec's W3C datetime form, to the second: `2010-01-01T00:00:00Z`
    in UTC (the default), `2010-01-01T08:00:00+08:00` in `tz`. A naive datetime is
    refused: the spec requires the time zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("an Open311 datetime must carry its time zone")
    moment = value.astimezone(tz or UTC).replace(microsecond=0)
    offset = moment.utcoffset()
    if offset == timedelta(0):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat()


# Shaping each part into plain values, in order.


def _fields(obj: Any, names: Sequence[str]) -> dict[str, Any]:
    """The named fields of a dataclass or mapping, in `names` order (absent: None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {n: getattr(obj, n, None) for n in names}
    if isinstance(obj, Mapping):
        return {n: obj.get(n) for n in names}
    raise TypeError(f"expected a dataclass or a mapping, not {type(obj).__name__}")


def _service(service: Any) -> dict[str, Any]:
    raw = _fields(service, SERVICE_FIELDS)
    keywords = raw["keywords"]
    if keywords is not None and not isinstance(keywords, str):
        raw["keywords"] = ", ".join(keywords)
    if raw["type"] not in ("realtime", "batch", "blackbox"):
        raise ValueError(f"service type must be realtime, batch or blackbox, not {raw['type']!r}")
    raw["metadata"] = bool(raw["metadata"])
    return raw


DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


def _attribute(attribute: Any) -> dict[str, Any]:
    raw = _fields(attribute, ATTRIBUTE_FIELDS)
    if raw["datatype"] not in DATATYPES:
        raise ValueError(f"attribute datatype must be one of {DATATYPES}, not {raw['datatype']!r}")
    values = [_fields(v, ("key", "name")) for v in raw["values"] or ()]
    if raw["datatype"].endswith("valuelist"):
        if not values:
            raise ValueError(f"a {raw['datatype']} attribute lists its values")
        raw["values"] = values
    else:
        # Values belong to lists only; the spec's other datatypes carry none.
        raw.pop("values")
    raw["variable"] = bool(raw["variable"] if raw["variable"] is not None else True)
    raw["required"] = bool(raw["required"])
    return raw


def _order(attribute: dict[str, Any]) -> Any:
    return attribute["order"]


def _request(request: Any, extensions: bool) -> dict[str, Any]:
    names = REQUEST_FIELDS + (EXTENSION_FIELDS if extensions else ())
    raw = _fields(request, names)
    if raw["status"] not in ("open", "closed"):
        raise ValueError(f"a request's status is open or closed, not {raw['status']!r}")
    if extensions:
        if raw["attributes"] is None:
            raw.pop("attributes")
        raw["extended_attributes"] = dict(raw["extended_attributes"] or {})
        raw["notes"] = [_fields(n, NOTE_FIELDS) for n in raw["notes"] or ()]
    return raw


# Writing: one tree of plain values, then JSON or XML.


def _render(root: str, payload: Any, fmt: Format) -> Rendered:
    fmt = Format(fmt)
    plain = _plain(payload)
    if fmt is Format.JSON:
        body = json.dumps(plain, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return Rendered(body.encode("utf-8"), JSON_MEDIA_TYPE)
    element = ET.Element(root)
    _fill(element, root, plain)
    text = XML_DECLARATION + ET.tostring(element, encoding="unicode")
    return Rendered(text.encode("utf-8"), XML_MEDIA_TYPE)


def _plain(value: Any) -> Any:
    """`value` as JSON-ready values: times in W3C form, ids and enums as text."""
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a number must be finite")
        return value
    if isinstance(value, Decimal):
        return _plain(float(value))
    if isinstance(value, datetime):
        return w3c(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return _plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise TypeError(f"cannot render a {type(value).__name__}")


NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot hold, escaped or not."""


def _fill(element: ET.Element, name: str, value: Any) -> None:
    """Write `value` (plain) into `element`, named `name`."""
    if value is None:
        return
    if isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, int | float):
        element.text = repr(value)
    elif isinstance(value, str):
        element.text = NOT_XML.sub("\ufffd", value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, _name(key)), key, item)
    elif isinstance(value, list):
        child = CHILD.get(name, "item")
        for item in value:
            _fill(ET.SubElement(element, child), child, item)


def _name(key: str) -> str:
    if not NAME.match(key) or key.lower().startswith("xml"):
        raise ValueError(f"{key!r} cannot be an XML element name")
    return key
