"""The `gridledger` command line."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

from api.database import migrate as migrate_database
from api.runtime import database_url
from api.settings import Settings

app = typer.Typer(
    help="gridledger: an auditable ledger of community governance.", no_args_is_help=True
)
console = Console()


@app.command()
def migrate() -> None:
    """Create every table gridledger needs (safe to run again)."""
    settings = Settings()
    url = database_url(settings)
    migrate_database(url)
    console.print(f"[green]migrated[/green] {url}")


@app.command()
def run() -> None:
    """Set up the embedded database and start gridledger for a newcomer."""
    settings = Settings()
    url = database_url(settings)
    migrate_database(url)
    console.print(f"[green]database ready[/green] at {url}")
    console.print(
        "The write side is in place; the HTTP API arrives with a later issue. "
        "Meanwhile: `gridledger watch` records missed deadlines."
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app()


if __name__ == "__main__":
    main()
