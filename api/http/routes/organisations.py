"""Organisations (驻区单位): register, report in with three lists; read."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response

from api.http.deps import CallerDep
from api.http.problems import COMMAND, QUERY
from api.http.reads import Connection, found, reader
from api.http.routing import OneHopRoute
from api.http.schemas.common import Answer, created
from api.http.schemas.organisations import OrganisationIn, OrganisationOut, OrganisationReportIn
from projections.views.members import organisation

router = APIRouter(prefix="/v1", tags=["organisations"], route_class=OneHopRoute)

Organisations = Annotated[Connection, reader("organisations")]


@router.post("/organisations", status_code=201, responses=COMMAND, name="register_organisation")
def register_organisation(body: OrganisationIn, caller: CallerDep, response: Response) -> Answer:
    """Register an organisation."""
    result = caller.run("register_organisation", **body.model_dump())
    return created(response, result, f"/v1/organisations/{result.id}")


@router.post(
    "/organisations/{organisation_id}/report-ins", responses=COMMAND, name="report_in_organisation"
)
def report_in(organisation_id: UUID, body: OrganisationReportIn, caller: CallerDep) -> Answer:
    """The organisation reports in to a community with its needs, resources and projects
    (需求清单、资源清单、项目清单)."""
    result = caller.run(
        "report_in_organisation", organisation_id, place=body.community, **body.model_dump()
    )
    return Answer.of(result)


@router.get("/organisations/{organisation_id}", responses=QUERY)
def get_organisation(organisation_id: UUID, conn: Organisations) -> OrganisationOut:
    """An organisation with its report-ins."""
    row = organisation(conn, organisation_id)
    return OrganisationOut(**found(row, "Organisation", organisation_id))
