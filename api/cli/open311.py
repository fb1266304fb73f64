"""`gridledger open311-key` and `open311-revoke`: Open311 client applications' keys."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from api.runtime import open311_clients
from api.runtime.build import build_governance, database_url
from api.runtime.settings import Settings
from domain.errors import NotFoundError

console = Console()


def key(
    client: Annotated[str, typer.Option(help="The client application's name.")],
    jurisdiction: Annotated[str, typer.Option(help="The district code the key is scoped to.")],
    source: Annotated[
        str, typer.Option(help="The channel its tickets come through: resident | hotline.")
    ] = "resident",
) -> None:
    """Issue an Open311 api_key for a client application, scoped to a district: the key
    is printed once (stdout) and only its hash is kept; the client's id (the actor of
    what it reports) on stderr."""
    if source not in open311_clients.SOURCES:
        raise typer.BadParameter(
            f"source must be one of {', '.join(open311_clients.SOURCES)}", param_hint="--source"
        )
    settings = Settings()
    url = database_url(settings)
    governance = build_governance(settings, url)
    try:
        node = governance.jurisdiction(jurisdiction)
    except NotFoundError:
        node = None
    finally:
        governance.close()
    if node is None or node.kind != "district":
        raise typer.BadParameter(f"{jurisdiction} is not a district", param_hint="--jurisdiction")
    issued, key = open311_clients.issue(url, name=client, jurisdiction=jurisdiction, source=source)
    typer.echo(key)
    typer.echo(f"client id (the actor of its requests): {issued.id}", err=True)


def revoke(
    client_id: Annotated[str, typer.Argument(help="The client application's id.")],
) -> None:
    """Revoke a client application's Open311 api_key at once."""
    try:
        uuid = UUID(client_id)
    except ValueError:
        raise typer.BadParameter("a client id is a UUID", param_hint="CLIENT_ID") from None
    if open311_clients.revoke(database_url(Settings()), uuid):
        console.print(f"revoked the key of {client_id}")
    else:
        console.print(f"{client_id}: no such client, or its key was revoked already")
