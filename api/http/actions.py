"""Action routes: `POST /v1/<resources>/{id}/<action>` on an existing aggregate.

Each finds the aggregate's place (its jurisdiction) and owner (the member it is about)
in the event store, so it can be authorised right after it was created, before its
query row exists (once per aggregate: neither ever changes); then runs the command as
the caller.

No `from __future__ import annotations` here: FastAPI must see the body types of the
endpoints this factory makes as classes.
"""

from collections.abc import Callable
from uuid import UUID

from fastapi import APIRouter

from api.http.deps import CallerDep
from api.http.problems import COMMAND
from api.http.schemas.common import Answer, Body
from domain.application import Governance
from domain.commands.base import CommandResult

Locate = Callable[[Governance, UUID], tuple[str, object]]
"""(governance, id) -> (the jurisdiction code it lies in, the member it is about)."""


def act(
    caller: CallerDep, locate: Locate, command: str, *args: object, **fields: object
) -> CommandResult:
    """Authorise `command` on the aggregate `args[0]` where `locate` puts it, and run it."""
    place, owner = caller.located(args[0], locate)
    return caller.run(command, *args, place=place, owner=owner, **fields)


def add_action(
    router: APIRouter,
    resource: str,
    action: str,
    command: str,
    body_type: type[Body] | None,
    locate: Locate,
    doc: str,
    answer: type[Answer] = Answer,
) -> None:
    """Add `POST /<resource>/{id}/<action>` running `command` with the body's fields."""

    def without_body(id: UUID, caller: CallerDep) -> Answer:
        return answer.of(act(caller, locate, command, id))

    def with_body(id: UUID, body: Body, caller: CallerDep) -> Answer:
        return answer.of(act(caller, locate, command, id, **body.model_dump()))

    with_body.__annotations__["body"] = body_type  # FastAPI reads the body's class here
    endpoint = without_body if body_type is None else with_body
    endpoint.__doc__ = doc
    router.add_api_route(
        f"/{resource}/{{id}}/{action}",
        endpoint,
        methods=["POST"],
        name=command,
        responses=COMMAND,
        response_model=answer,
    )
