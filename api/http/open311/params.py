"""Open311 parameters: GET requests' query, checked, and POST requests' form, as the
fields of `report_ticket`. Pure functions; an unreadable value is an Open311Error (400,
or 404 for a service_code not offered)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from api.http.open311.catalogue import Catalogue
from api.http.open311.errors import Open311Error
from api.http.open311.mapping import (
    DEFAULT_SPAN,
    MAX_RESULTS,
    PRIORITIES,
    STATUSES,
    TICKET_STATUSES,
)


@dataclass(frozen=True)
class RequestsQuery:
    """GET requests' filters, checked. `ids` overrides every other filter (spec)."""

    ids: tuple[UUID, ...] | None = None
    categories: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] | None = None
    """gridledger statuses."""
    jurisdiction: str | None = None
    extensions: bool = False
    limit: int = MAX_RESULTS
    offset: int = 0

    def filters(self) -> tuple[tuple[str, Any], ...]:
        """`(clause, value)` pairs for `api.http.reads.conditions` over `tickets`, a
        value None where the filter does not apply; lists go to `= ANY(%s)`."""
        if self.ids is not None:
            return (("id = ANY(%s)", list(self.ids)),)
        return (
            ("grid_path @> ARRAY[%s]::text[]", self.jurisdiction),
            ("category = ANY(%s)", None if self.categories is None else list(self.categories)),
            ("reported_at >= %s", self.start),
            ("reported_at <= %s", self.end),
            ("status = ANY(%s)", None if self.statuses is None else list(self.statuses)),
        )


TRUE = ("true", "1", "yes")
DIGITS = re.compile(r"[0-9]{1,9}")
"""A whole number as a query gives it: ASCII digits only (`str.isdigit` takes `²`,
which `int` refuses), and few enough that `int` reads it at once."""


def parse_requests_query(
    params: Iterable[tuple[str, str]],
    catalogue: Catalogue,
    *,
    now: datetime,
    span: timedelta = DEFAULT_SPAN,
    max_results: int = MAX_RESULTS,
) -> RequestsQuery:
    """GET requests' query string (`request.query_params.multi_items()`), checked.

    An empty parameter is an absent one (spec, "Optional Arguments"). A parameter given
    several times, or comma delimited, is a list. start_date and end_date bound
    `requested_datetime` (both included) and may not span more than 90 days; one of
    them alone takes the 90 days after or before it; neither, the last 90 days up to
    `now`. `page` and `page_size` (the Extensions page's pagination) are 1-based.
    Raises Open311Error (400) for a value it cannot read.
    """
    values: dict[str, list[str]] = {}
    for key, value in params:
        for part in value.split(","):
            if part.strip():
                values.setdefault(key, []).append(part.strip())
    extensions = (_single(values, "extensions") or "").lower() in TRUE
    if "service_request_id" in values:
        # "This overrides all other arguments": every filter, the jurisdiction and the
        # page too; only the extensions switch (a matter of format) still applies.
        try:
            ids = tuple(dict.fromkeys(UUID(v) for v in values["service_request_id"]))
        except ValueError:
            raise Open311Error(400, "service_request_id must list request ids") from None
        if len(ids) > max_results:
            raise Open311Error(400, f"service_request_id may list at most {max_results} ids")
        return RequestsQuery(ids=ids, extensions=extensions, limit=max_results)
    page_size = _integer(values, "page_size", max_results, 1, max_results)
    page = _integer(values, "page", 1, 1, 10**6)
    common: dict[str, Any] = {
        "jurisdiction": _single(values, "jurisdiction_id"),
        "extensions": extensions,
        "limit": page_size,
        "offset": (page - 1) * page_size,
    }
    categories = None
    if "service_code" in values:
        found = (catalogue.category_of(code) for code in values["service_code"])
        # An unknown code matches nothing; it is not an error (the spec names none).
        categories = tuple(dict.fromkeys(c for c in found if c is not None))
    statuses = _statuses(values["status"]) if "status" in values else None
    start, end = _window(values, now, span)
    return RequestsQuery(categories=categories, start=start, end=end, statuses=statuses, **common)


def _statuses(wanted: list[str]) -> tuple[str, ...]:
    """The ticket statuses of the Open311 statuses `wanted` (open, closed)."""
    lowered = [s.lower() for s in wanted]
    unknown = sorted(set(lowered) - set(TICKET_STATUSES))
    if unknown:
        raise Open311Error(400, f"status must be open or closed, not {', '.join(unknown)}")
    return tuple(s for s in STATUSES if any(s in TICKET_STATUSES[w] for w in lowered))


def _window(
    values: Mapping[str, list[str]], now: datetime, span: timedelta
) -> tuple[datetime, datetime]:
    """start_date and end_date (both included), at most `span` apart; one of them alone
    takes the span after or before it; neither, the span up to `now`."""
    start = _moment(values, "start_date")
    end = _moment(values, "end_date")
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - span
    if end is None:
        end = start + span
    if start > end:
        raise Open311Error(400, "start_date must not be after end_date")
    if end - start > span:
        raise Open311Error(400, f"start_date to end_date may not span more than {span.days} days")
    return start, end


def parse_w3c(text: str) -> datetime:
    """A W3C datetime with its time zone (`2010-01-01T00:00:00Z`, `...+08:00`), in UTC.
    A date alone or a time without a zone is refused: the spec requires the zone."""
    value = text.strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$", value):
        raise ValueError(f"{text!r} is not a W3C datetime with a time zone")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 lies before the first UTC moment
        raise ValueError(f"{text!r} lies outside the calendar") from None


def _single(values: Mapping[str, list[str]], name: str) -> str | None:
    given = values.get(name)
    if not given:
        return None
    if len(given) > 1:
        raise Open311Error(400, f"{name} takes one value")
    return given[0]


def _integer(values: Mapping[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    given = _single(values, name)
    if given is None:
        return default
    if not DIGITS.fullmatch(given) or not low <= int(given) <= high:
        raise Open311Error(400, f"{name} must be a whole number from {low} to {high}")
    return int(given)


def _moment(values: Mapping[str, list[str]], name: str) -> datetime | None:
    given = _single(values, name)
    if given is None:
        return None
    try:
        moment = parse_w3c(given)
    except ValueError:
        raise Open311Error(
            400, f"{name} must be a W3C datetime, e.g. 2010-01-01T00:00:00Z"
        ) from None
    if not 1970 <= moment.year <= 2200:
        raise Open311Error(400, f"{name} must lie between the years 1970 and 2200")
    return moment


# POST requests: the form.

ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
GRID_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_DESCRIPTION = 2000
"""The project's `Note` bound (the spec allows 4,000 characters; we store 2,000)."""


def parse_post_form(
    form: Iterable[tuple[str, str]],
    catalogue: Catalogue,
    *,
    source: str,
) -> dict[str, Any]:
    """The fields of `report_ticket` from a POST requests form
    (`parse_qsl` of the body), or Open311Error.

    service_code names the category (404 when the catalogue has no such service). The
    grid is `attribute[grid]`, or else `address_id`. A location needs lat and long; the
    address is `address_string`, or the coordinates themselves. An address_string
    without coordinates cannot be a location (the domain's needs lat and lon): it is
    kept at the head of the description. `attribute[priority]` is optional; other
    attributes are ignored. `source` is the client application's channel. The account
    and personal fields (account_id, email, names, phone, device_id, media_url) are
    not stored: nothing links a request to a person.
    """
    fields: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    for key, value in form:
        match = ATTRIBUTE_KEY.match(key)
        if match:
            attributes.setdefault(match.group(1), []).append(value)
        elif value.strip():
            fields[key] = value.strip()
    code = fields.get("service_code")
    if code is None:
        raise Open311Error(400, "service_code was not provided")
    service = catalogue.offered(code)
    if service is None:
        raise Open311Error(404, f"service_code {code!r} was not found")
    grid = _grid(fields, attributes)
    priority = _one(attributes, "priority") or "normal"
    if priority not in PRIORITIES:
        raise Open311Error(400, f"attribute[priority] must be one of {', '.join(PRIORITIES)}")
    description, location = _described(fields)
    return {
        "category": service.category,
        "description": description,
        "grid": grid,
        "location": location,
        "source": source,
        "priority": priority,
    }


def _grid(fields: Mapping[str, str], attributes: Mapping[str, Sequence[str]]) -> str:
    grid = _one(attributes, "grid") or fields.get("address_id")
    if grid is None:
        raise Open311Error(400, "attribute[grid] (or address_id) was not provided")
    if not GRID_CODE.match(grid):
        raise Open311Error(400, "attribute[grid] must be a grid code")
    if fields.get("address_id") and _one(attributes, "grid") and fields["address_id"] != grid:
        raise Open311Error(400, "address_id and attribute[grid] name different grids")
    return grid


def _described(fields: Mapping[str, str]) -> tuple[str, dict[str, Any] | None]:
    """The description, and the location (None without coordinates: an address alone
    goes at the head of the description)."""
    description = fields.get("description")
    if description is None:
        raise Open311Error(400, "description was not provided")
    location = None
    address = fields.get("address_string")
    for name, value in (("description", description), ("address_string", address)):
        # The event store keeps a NUL, but no query table can (jsonb and text refuse
        # it): one recorded would stop the projections at its event for good.
        if value is not None and "\x00" in value:
            raise Open311Error(400, f"{name} must not contain NUL characters")
    if "lat" in fields or "long" in fields:
        location = _location(fields.get("lat"), fields.get("long"), address)
    elif address is not None:
        description = f"[{address}] {description}"
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description may hold at most {MAX_DESCRIPTION} characters")
    return description, location


def _one(attributes: Mapping[str, Sequence[str]], code: str) -> str | None:
    given = [v.strip() for v in attributes.get(code, ()) if v.strip()]
    if len(given) > 1:
        raise Open311Error(400, f"attribute[{code}] takes one value")
    return given[0] if given else None


def _location(lat: str | None, long: str | None, address: str | None) -> dict[str, Any]:
    if lat is None or long is None:
        raise Open311Error(400, "lat and long must both be sent")
    try:
        y, x = float(lat), float(long)
    except ValueError:
        raise Open311Error(400, "lat and long must be numbers") from None
    if not (-90 <= y <= 90 and -180 <= x <= 180):
        raise Open311Error(400, "lat must be from -90 to 90 and long from -180 to 180")
    if address is not None and len(address) > 200:
        raise Open311Error(400, "address_string may hold at most 200 characters")
    return {"address": address or f"{y:.6f},{x:.6f}", "lat": y, "lon": x}
