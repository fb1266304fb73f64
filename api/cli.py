"""The `gridledger` command line."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

from api.database import migrate as migrate_database
from api.runtime import build_governance, database_url
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


@app.command()
def watch(
    once: bool = typer.Option(False, "--once", help="Record what is due now, then stop."),
    interval: float = typer.Option(30.0, help="Seconds between rounds."),
) -> None:
    """Record missed ticket deadlines and lapsed pledges as events (idempotent)."""
    from projections.deadlines import DeadlineIndex
    from projections.watcher import DeadlineWatcher

    settings = Settings()
    url = database_url(settings)
    governance = build_governance(settings, url)
    watcher = DeadlineWatcher(governance, DeadlineIndex(url, governance))
    if once:
        report = watcher.run_once()
        console.print(f"recorded {report.total} ({report.recorded}); refused {report.refused}")
        return
    console.print(f"watching deadlines every {interval:g}s; Ctrl-C stops")
    watcher.run_forever(interval)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app()


if __name__ == "__main__":
    main()
