"""Open311 GeoReport v2 at `/open311/v2/`: services, service definitions, requests.

    GET  services.{fmt}                    the ticket categories           public
    GET  services/{service_code}.{fmt}     one category's attributes       public
    POST requests.{fmt}                    report a ticket (form-encoded)  api_key
    GET  requests.{fmt}                    tickets, by the spec's filters  api_key or public
    GET  requests/{id}.{fmt}               one ticket (a list of one)      api_key or public
    GET  tokens/{token}.{fmt}              always 404: every service is realtime
    GET  /open311/discovery.{fmt}          the spec's service discovery

`fmt` is json or xml. Errors are the spec's `errors` documents (see `errors`); who may
ask what, `access`; how a ticket reads as a request, `mapping`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from starlette.routing import Match

from api.http.auth import Principal
from api.http.deps import Caller, GovernanceDep, IdempotencyKey
from api.http.open311.access import (
    PUBLIC,
    Asker,
    AskerDep,
    check_jurisdiction,
    find_client,
    reading_principal,
)
from api.http.open311.catalogue import Catalogue
from api.http.open311.errors import Open311Error, Open311Route
from api.http.open311.mapping import MAX_RESULTS, discloses, service_notice, ticket_to_request
from api.http.open311.params import RequestsQuery, parse_post_form, parse_requests_query
from api.http.open311.render import (
    Discovery,
    Endpoint,
    Format,
    PostResult,
    Rendered,
    render_discovery,
    render_post_results,
    render_service_definition,
    render_service_request,
    render_service_requests,
    render_services,
)
from api.http.reads import Connection, reader
from projections.views.reading import Filters
from projections.views.tickets import newest
from projections.views.tickets_timeline import timelines as timelines_of

router = APIRouter(prefix="/open311", tags=["open311"], route_class=Open311Route)

Tickets = Annotated[Connection, reader("tickets", "ticket_timeline", who=reading_principal)]
ANYONE = Asker(Principal(sub="anyone", role=PUBLIC, scope="*"))
MAX_FIELDS = 200
FORM = "application/x-www-form-urlencoded"
POSITION = "X-Gridledger-Position"
"""A POST's answer: the position of the event it recorded (pass it as min_position)."""
JurisdictionId = Annotated[
    str | None, Query(max_length=64, description="A district code (optional).")
]
Extensions = Annotated[
    bool, Query(description="Add attributes, extended_attributes and notes (the timeline).")
]


def _answer(rendered: Rendered, headers: dict[str, str] | None = None) -> Response:
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)


def _caller(request: Request, asker: Asker | None, key: str | None = None) -> Caller:
    """A caller for `asker` (None: anyone; it then only looks jurisdictions up)."""
    state = request.app.state
    principal = (asker or ANYONE).principal
    return Caller(principal, state.governance, state.pool, key, state.facts)


def _catalogue(request: Request) -> Catalogue:
    """The services offered (built from the settings by `create_app`)."""
    catalogue: Catalogue = request.app.state.open311_catalogue
    return catalogue


def _lang(request: Request) -> str:
    lang: str = request.app.state.settings.open311_language
    return lang


@router.get("/v2/services.{fmt}")
def get_services(fmt: Format, request: Request, jurisdiction_id: JurisdictionId = None) -> Response:
    """The services offered: gridledger's ticket categories."""
    check_jurisdiction(_caller(request, None), None, jurisdiction_id)
    return _answer(render_services(_catalogue(request).service_list(), fmt))


@router.get("/v2/services/{service_code}.{fmt}")
def get_service_definition(
    service_code: str,
    fmt: Format,
    request: Request,
    governance: GovernanceDep,
    jurisdiction_id: JurisdictionId = None,
) -> Response:
    """A service's attributes: the grid (required), the priority, its deadlines."""
    check_jurisdiction(_caller(request, None), None, jurisdiction_id)
    catalogue, lang = _catalogue(request), _lang(request)
    definition = catalogue.definition(service_code, governance.ticket_policy, lang)
    return _answer(render_service_definition(definition, fmt))


@router.post("/v2/requests.{fmt}")
async def post_request(
    fmt: Format, request: Request, idempotency_key: IdempotencyKey = None
) -> Response:
    """Report a ticket: a form-encoded body as the spec shows, with an api_key (in the
    query string or the form). The client is recorded as the actor."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise Open311Error(400, f"the body must be {FORM}")
    try:
        text = (await request.body()).decode("utf-8")
        form = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise Open311Error(400, "the body must be UTF-8") from None
    except ValueError:
        raise Open311Error(400, f"the form may hold at most {MAX_FIELDS} fields") from None
    return await run_in_threadpool(_report, request, fmt, form, idempotency_key)


def _report(
    request: Request, fmt: Format, form: list[tuple[str, str]], idempotency_key: str | None
) -> Response:
    given = dict(form)
    key = request.query_params.get("api_key") or given.get("api_key")
    asker = find_client(request.app.state.pool, key)
    if asker is None or asker.client is None:
        raise Open311Error(403, "api_key is required to post a request")
    caller = _caller(request, asker, idempotency_key)
    request.app.state.limits.commands.take(asker.principal.token_id)
    check_jurisdiction(caller, asker, (given.get("jurisdiction_id") or "").strip() or None)
    fields = parse_post_form(form, _catalogue(request), source=asker.client.source)
    result = caller.run("report_ticket", place=fields["grid"], owner=None, **fields)
    caller.facts.learn(result.id, fields["grid"], None)
    policy = request.app.state.governance.ticket_policy
    notice = service_notice(policy, fields["category"], fields["priority"], _lang(request))
    rendered = render_post_results(
        [PostResult(service_request_id=str(result.id), service_notice=notice)], fmt
    )
    headers = {
        "Location": f"/open311/v2/requests/{result.id}.{fmt.value}",
        POSITION: str(result.position),
    }
    return _answer(rendered, headers)


@router.get("/v2/requests.{fmt}")
def get_requests(
    fmt: Format, request: Request, conn: Tickets, asker: AskerDep, governance: GovernanceDep
) -> Response:
    """Requests by the spec's filters: service_request_id (a list; it overrides the
    rest), service_code, start_date/end_date (the last 90 days by default), status
    (open, closed), jurisdiction_id; at most 1,000, newest first (`page`, `page_size`
    page through more)."""
    query = parse_requests_query(
        request.query_params.multi_items(), _catalogue(request), now=governance.clock()
    )
    check_jurisdiction(_caller(request, asker), asker, request.query_params.get("jurisdiction_id"))
    found = _tickets(conn, asker, query)
    return _requests(request, conn, asker, found, fmt, query.extensions)


def _tickets(conn: Connection, asker: Asker, query: RequestsQuery) -> list[dict[str, Any]]:
    filters: list[Filters] = [asker.tickets(), *query.filters()]
    return newest(conn, filters, min(query.limit, MAX_RESULTS), query.offset)


def _requests(
    request: Request,
    conn: Connection,
    asker: Asker,
    tickets: list[dict[str, Any]],
    fmt: Format,
    extensions: bool,
    *,
    one: bool = False,
) -> Response:
    """`tickets` as the spec's service requests, with their timelines if `extensions`."""
    timelines: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    if extensions and tickets:
        entries = timelines_of(conn, [t["id"] for t in tickets])
        for entry in entries:
            timelines[entry["ticket_id"]].append(entry)
    policy, lang = request.app.state.governance.ticket_policy, _lang(request)
    catalogue = _catalogue(request)
    found = [
        ticket_to_request(
            t,
            catalogue,
            policy,
            disclose=discloses(t, keyed=asker.keyed),
            extensions=extensions,
            timeline=timelines.get(t["id"]),
            lang=lang,
        )
        for t in tickets
    ]
    if one:
        return _answer(render_service_request(found[0], fmt, extensions=extensions))
    return _answer(render_service_requests(found, fmt, extensions=extensions))


@router.get("/v2/requests/{service_request_id}.{fmt}")
def get_request(
    service_request_id: str,
    fmt: Format,
    request: Request,
    conn: Tickets,
    asker: AskerDep,
    jurisdiction_id: JurisdictionId = None,
    extensions: Extensions = False,
) -> Response:
    """One request, as a list of one (the spec's shape); 404 for an unknown id or one
    outside what the asker may read."""
    check_jurisdiction(_caller(request, asker), asker, jurisdiction_id)
    unknown = Open311Error(404, f"service_request_id {service_request_id!r} was not found")
    try:
        ticket_id = UUID(service_request_id)
    except ValueError:
        raise unknown from None
    found = _tickets(conn, asker, RequestsQuery(ids=(ticket_id,)))
    if not found:
        raise unknown
    return _requests(request, conn, asker, found, fmt, extensions, one=True)


@router.get("/v2/tokens/{token}.{fmt}")
def get_token(token: str, fmt: Format) -> Response:
    """Tokens are for batch services; every service here is realtime, so none exists."""
    raise Open311Error(404, f"token {token!r} was not found: every service answers at once")


@router.get("/discovery.{fmt}")
def get_discovery(fmt: Format, request: Request) -> Response:
    """The spec's service discovery: where the GeoReport v2 endpoint is."""
    url = str(request.base_url).rstrip("/") + "/open311/v2"
    endpoint = Endpoint(url=url, changeset=CHANGESET)
    discovery = Discovery(
        changeset=CHANGESET,
        contact="the operator of this gridledger server",
        key_service="api keys are issued by the operator: gridledger open311-key",
        endpoints=(endpoint,),
    )
    return _answer(render_discovery(discovery, fmt))


CHANGESET = "2026-12-08T00:00:00Z"
"""When this interface last changed."""


@router.api_route(
    "/{rest:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
def not_found(rest: str, request: Request) -> Response:
    """Anything else under /open311: the spec's 404 (405 with Allow for a resource
    asked with another method), not problem+json."""
    allowed = sorted(
        method
        for route in router.routes
        if isinstance(route, APIRoute) and route.endpoint is not not_found
        if route.matches(request.scope)[0] is Match.PARTIAL
        for method in route.methods or ()
    )
    if allowed:
        raise Open311Error(
            405,
            f"{request.method} is not allowed here; use {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )
    raise Open311Error(404, f"no Open311 resource {request.method} /open311/{rest}")
