"""From gridledger tickets to Open311 GeoReport v2 service requests: pure functions.

A ticket is a row of the `tickets` query table (a mapping of its columns), a timeline
entry a row of `ticket_timeline` (`event_type, recorded_at, occurred_at, details`).
Nothing here reads the database.

    gridledger status    Open311 status   updated_datetime   expected_datetime
    reported             open             updated_at         resolve_due_at
    accepted             open             updated_at         resolve_due_at
    dispatched           open             updated_at         resolve_due_at
    responded            open             updated_at         resolve_due_at
    resolved             closed           resolved_at        resolve_due_at
    closed  (销号)        closed           closed_at          resolve_due_at
    rejected             closed           updated_at         (none)

Escalation is no status: an escalated ticket is `accepted` again at a higher level,
with no assignee; its status_notes say so. A reopened ticket is `dispatched` again.

Personal data: a request never names its reporter (no member id, name, phone or
account). The text a resident may have written (the description, the address and the
coordinates) is shown only where `disclose` says (see `discloses`); supervision and
return-visit notes and rating comments never.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from api.http.open311.render import Note, ServiceRequest, w3c
from domain.ticket_policy import Level, Priority, Source, Status

# The domain's vocabularies, as text, in its order.
STATUSES = tuple(s.value for s in Status)
LEVELS = tuple(level.value for level in Level)
PRIORITIES = tuple(p.value for p in Priority)
SOURCES = tuple(s.value for s in Source)

OPEN311_STATUS = {
    "reported": "open",
    "accepted": "open",
    "dispatched": "open",
    "responded": "open",
    "resolved": "closed",
    "closed": "closed",
    "rejected": "closed",
}
"""The spec's `open: it has been reported`, `closed: it has been resolved`: a resolved
ticket is closed for Open311 even while it waits for rating, a return visit and 销号
(and it may still be reopened, which opens it again); a rejected one is closed too."""

TICKET_STATUSES = {
    "open": tuple(s for s in STATUSES if OPEN311_STATUS[s] == "open"),
    "closed": tuple(s for s in STATUSES if OPEN311_STATUS[s] == "closed"),
}
"""The gridledger statuses each Open311 status filter matches."""

MAX_RESULTS = 1000
"""Spec: "Default query limit is a span of 90 days or first 1000 requests returned,
whichever is smallest.\""""
DEFAULT_SPAN = timedelta(days=90)


class Windows(Protocol):
    """How long a ticket may take: `domain.ticket_policy.TicketPolicy` is one."""

    @property
    def response(self) -> timedelta: ...

    def resolution_for(self, category: str, priority: str) -> timedelta: ...


# Words. `zh` is the default: the people reading status_notes are the residents and
# hotline operators of the communities; `en` for outside clients.

LEVEL_NAMES = {
    "zh": {"grid": "网格", "community": "社区", "street": "街道", "department": "职能部门"},
    "en": {"grid": "grid", "community": "community", "street": "street office",
           "department": "department"},
}  # fmt: skip

WORDS = {
    "zh": {
        "reported": "已上报，待受理",
        "accepted": "已受理，待派单",
        "escalated": "已上报至{level}处理，待{level}派单",
        "dispatched": "已派单至{agency}，待响应",
        "redispatched": "已重新派单至{agency}（第 {n} 次重办），待办结",
        "responded": "{agency}已响应，正在办理",
        "resolved": "已办结：{resolution}",
        "closed": "已办结销号：{resolution}",
        "rejected_invalid": "不予受理：无效上报",
        "rejected_duplicate": "不予受理：与事项 {duplicate_of} 重复",
        "response_overdue": "响应超时",
        "resolution_overdue": "办结超时",
        "sep": "；",
        "agency": "{level}：{assignee}",
        "notice": "{response}内响应，{resolution}内办结",
        "hours": "{n} 小时",
        "minutes": "{n} 分钟",
    },
    "en": {
        "reported": "Reported; awaiting acceptance",
        "accepted": "Accepted; awaiting dispatch",
        "escalated": "Escalated to the {level}; awaiting its dispatch",
        "dispatched": "Dispatched to {agency}; awaiting response",
        "redispatched": "Reopened and dispatched to {agency} (round {n}); awaiting resolution",
        "responded": "{agency} responded; being handled",
        "resolved": "Resolved: {resolution}",
        "closed": "Resolved and closed: {resolution}",
        "rejected_invalid": "Not accepted: invalid report",
        "rejected_duplicate": "Not accepted: duplicate of request {duplicate_of}",
        "response_overdue": "response overdue",
        "resolution_overdue": "resolution overdue",
        "sep": "; ",
        "agency": "{level}: {assignee}",
        "notice": "Response within {response}, resolution within {resolution}",
        "hours": "{n} hours",
        "minutes": "{n} minutes",
    },
}


def open311_status(status: str) -> str:
    """open | closed, for a gridledger ticket status."""
    try:
        return OPEN311_STATUS[status]
    except KeyError:
        raise ValueError(f"unknown ticket status {status!r}") from None


def agency_responsible(level: str | None, assignee: str | None, lang: str = "zh") -> str | None:
    """`街道：区城管局`: the level handling the ticket and who at it; the level alone
    while an escalated ticket waits for its new assignee; None before dispatch."""
    if level is None:
        return None
    name = LEVEL_NAMES[lang][level]
    if not assignee:
        return name
    return WORDS[lang]["agency"].format(level=name, assignee=assignee)


def status_notes(ticket: Mapping[str, Any], lang: str = "zh") -> str:
    """Why the ticket is where it is, in a sentence, with its missed deadlines."""
    words = WORDS[lang]
    status = ticket["status"]
    agency = agency_responsible(ticket.get("level"), ticket.get("assignee"), lang)
    if status == "accepted" and ticket.get("level") and ticket.get("escalation_count", 0):
        note = words["escalated"].format(level=LEVEL_NAMES[lang][ticket["level"]])
    elif status == "dispatched" and ticket.get("reopen_count", 0):
        note = words["redispatched"].format(agency=agency, n=ticket["reopen_count"])
    elif status == "rejected":
        duplicate = ticket.get("rejection_reason") == "duplicate"
        key = "rejected_duplicate" if duplicate else "rejected_invalid"
        note = words[key].format(duplicate_of=ticket.get("duplicate_of"))
    else:
        note = words[status].format(agency=agency, resolution=ticket.get("resolution") or "")
    missed = [
        words[flag] for flag in ("response_overdue", "resolution_overdue") if ticket.get(flag)
    ]
    if missed and status != "rejected":
        note += words["sep"] + words["sep"].join(missed)
    return note


def updated_datetime(ticket: Mapping[str, Any]) -> datetime:
    """The last change; for a closed request, the spec's "the date the request was
    closed": when it was resolved, closed (销号), or rejected (its last event)."""
    status = ticket["status"]
    if status == "resolved" and ticket.get("resolved_at"):
        return ticket["resolved_at"]
    if status == "closed" and ticket.get("closed_at"):
        return ticket["closed_at"]
    return ticket.get("updated_at") or ticket["reported_at"]


def expected_datetime(ticket: Mapping[str, Any]) -> datetime | None:
    """The resolution deadline (the service level agreement); none for a rejected one."""
    return None if ticket["status"] == "rejected" else ticket["resolve_due_at"]


def duration(value: timedelta, lang: str = "zh") -> str:
    minutes = int(value.total_seconds() // 60)
    if minutes % 60 == 0:
        return WORDS[lang]["hours"].format(n=minutes // 60)
    return WORDS[lang]["minutes"].format(n=minutes)


def service_notice(
    windows: Windows, category: str, priority: str = "normal", lang: str = "zh"
) -> str:
    """`1 小时内响应，72 小时内办结`: the deadlines a new ticket of this kind gets."""
    return WORDS[lang]["notice"].format(
        response=duration(windows.response, lang),
        resolution=duration(windows.resolution_for(category, priority), lang),
    )


# Tickets as service requests.

PUBLIC_EXTENDED = (
    "grid", "community", "street", "district", "level", "assignee", "priority", "source",
    "ticket_status", "respond_due_at", "responded_at", "resolve_due_at", "resolved_at",
    "closed_at", "response_overdue", "resolution_overdue", "satisfaction", "reopen_count",
    "escalation_count", "version",
)  # fmt: skip
"""What `extensions=true` adds in `extended_attributes`. Never the reporter (a member
id), the rating comment or the rejection's internals beyond duplicate/parent."""


class Names(Protocol):
    """How categories are named as services: `catalogue.Catalogue` is one."""

    def code_of(self, category: str) -> str: ...

    def name_of(self, category: str) -> str: ...


def discloses(ticket: Mapping[str, Any], *, keyed: bool) -> bool:
    """Whether a request shows the ticket's description, address and coordinates: only
    to a client with an api_key (never to anonymous public reads), and only for a
    ticket no resident member reported (a grid worker's, the hotline's, an Open311
    client's): a member's own words and whereabouts stay inside gridledger, where
    issue 16's masking applies to them."""
    return keyed and ticket.get("reporter_member_id") is None


def ticket_to_request(
    ticket: Mapping[str, Any],
    catalogue: Names,
    windows: Windows,
    *,
    disclose: bool = False,
    extensions: bool = False,
    timeline: Iterable[Mapping[str, Any]] | None = None,
    lang: str = "zh",
) -> ServiceRequest:
    """The Open311 request of a `tickets` row; `timeline` (its `ticket_timeline` rows,
    in order) gives the `notes` extension; `disclose` (see `discloses`) whether the
    description, address and coordinates are shown."""
    location = (ticket.get("location") or {}) if disclose else {}
    return ServiceRequest(
        service_request_id=str(ticket["id"]),
        status=open311_status(ticket["status"]),
        status_notes=status_notes(ticket, lang),
        service_name=catalogue.name_of(ticket["category"]),
        service_code=catalogue.code_of(ticket["category"]),
        description=ticket.get("description") if disclose else None,
        agency_responsible=agency_responsible(ticket.get("level"), ticket.get("assignee"), lang),
        service_notice=service_notice(
            windows, ticket["category"], ticket.get("priority") or "normal", lang
        ),
        requested_datetime=ticket["reported_at"],
        updated_datetime=updated_datetime(ticket),
        expected_datetime=expected_datetime(ticket),
        address=location.get("address"),
        address_id=ticket.get("grid"),
        zipcode=None,
        lat=location.get("lat"),
        long=location.get("lon"),
        media_url=None,
        extended_attributes=extended_attributes(ticket) if extensions else None,
        notes=timeline_notes(timeline or (), lang) if extensions else None,
    )


def extended_attributes(ticket: Mapping[str, Any]) -> dict[str, Any]:
    """The `extended_attributes` extension: PUBLIC_EXTENDED, and Chicago's `channel`,
    `duplicate` and `parent_service_request_id`."""
    extended = {k: ticket.get(k) for k in PUBLIC_EXTENDED}
    extended["ticket_status"] = ticket["status"]
    duplicate = ticket.get("rejection_reason") == "duplicate"
    parent = ticket.get("duplicate_of") if duplicate else None
    return {
        **extended,
        "channel": ticket.get("source"),
        "duplicate": duplicate,
        "parent_service_request_id": None if parent is None else str(parent),
    }


NOTE_SUMMARIES = {
    "zh": {
        "Reported": "上报", "Accepted": "受理", "Rejected": "不予受理", "Dispatched": "派单",
        "Responded": "响应", "Escalated": "上报升级", "Supervised": "督办", "Resolved": "办结",
        "Rated": "评价", "Visited": "回访", "Closed": "销号", "Reopened": "重办",
        "ResponseOverdue": "响应超时", "ResolutionOverdue": "办结超时",
    },
    "en": {
        "Reported": "Reported", "Accepted": "Accepted", "Rejected": "Rejected",
        "Dispatched": "Dispatched", "Responded": "Responded", "Escalated": "Escalated",
        "Supervised": "Supervised", "Resolved": "Resolved", "Rated": "Rated",
        "Visited": "Return visit", "Closed": "Closed", "Reopened": "Reopened",
        "ResponseOverdue": "Response overdue", "ResolutionOverdue": "Resolution overdue",
    },
}  # fmt: skip
NOTE_TYPES = {"Reported": "opened", "Closed": "closed", "Rejected": "closed", "Resolved": "closed",
              "Reopened": "opened"}  # fmt: skip
"""The Chicago-style note types (opened, closed, activity); the rest are `activity`."""


def timeline_notes(entries: Iterable[Mapping[str, Any]], lang: str = "zh") -> list[Note]:
    """The `notes` extension: one note per ticket event, with only the text meant for
    the public: the response and resolution notes, escalation and reopening reasons,
    who it was dispatched to, the satisfaction given. Supervision (督办) and return-visit
    (回访) notes and rating comments stay internal: their note has a summary only."""
    notes = []
    for entry in entries:
        kind = entry["event_type"]
        details = entry.get("details") or {}
        notes.append(
            Note(
                datetime=entry.get("occurred_at") or entry["recorded_at"],
                type=NOTE_TYPES.get(kind, "activity"),
                summary=NOTE_SUMMARIES[lang].get(kind, kind),
                description=_public_text(kind, details, lang),
            )
        )
    return notes


def _public_text(kind: str, details: Mapping[str, Any], lang: str) -> str | None:
    if kind == "Dispatched":
        return agency_responsible(details.get("level"), details.get("assignee"), lang)
    if kind == "Escalated":
        to = LEVEL_NAMES[lang].get(details.get("to_level", ""), details.get("to_level"))
        return f"{to}{'：' if lang == 'zh' else ': '}{details.get('reason', '')}"
    if kind == "Responded":
        return details.get("note")
    if kind == "Resolved":
        return details.get("resolution")
    if kind == "Reopened":
        return details.get("reason")
    if kind == "Rejected":
        duplicate = details.get("reason") == "duplicate"
        key = "rejected_duplicate" if duplicate else "rejected_invalid"
        return WORDS[lang][key].format(duplicate_of=details.get("duplicate_of"))
    if kind == "Rated":
        return details.get("satisfaction")
    if kind in ("ResponseOverdue", "ResolutionOverdue"):
        return _w3c_text(details.get("due_at"))
    return None


def _w3c_text(value: Any) -> str | None:
    """A time from a timeline's details (stored as ISO text) in W3C form."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return w3c(value) if value.tzinfo is not None else value.isoformat()
