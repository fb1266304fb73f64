"""`gridledger report`: an evaluator's assessment report as an HTML or PDF file."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.cli.ledger import parse_as_of
from api.runtime.settings import Settings

console = Console()
FORMATS = ("html", "pdf")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("a date, YYYY-MM-DD", param_hint=option) from None


def report(
    jurisdiction: Annotated[str, typer.Option(help="The code of the subtree to assess.")],
    start: Annotated[str, typer.Option("--from", help="First local date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last local date (inclusive), YYYY-MM-DD.")],
    as_of: Annotated[
        str | None,
        typer.Option(help="Leave out what was recorded after this time (default: now)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="html (one file) or pdf.")] = "html",
    out: Annotated[
        Path | None,
        typer.Option(help="File to write (default: report-CODE-FROM-TO.html|pdf)."),
    ] = None,
) -> None:
    """Write the assessment report of a jurisdiction for a period: headline figures, the
    trend of the three rates, overdue tickets by child jurisdiction, the points flow."""
    import psycopg

    from api.reports.data import assemble
    from api.reports.render import render_html, render_pdf
    from api.runtime.build import database_url
    from domain.errors import NotFoundError

    first, last = _day(start, "--from"), _day(end, "--to")
    if last < first:
        raise typer.BadParameter("must not be before --from", param_hint="--to")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"one of {', '.join(FORMATS)}", param_hint="--format")
    moment = parse_as_of(as_of) if as_of is not None else None
    target = out or Path(f"report-{jurisdiction}-{first}-{last}.{fmt}")
    with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
        try:
            data = assemble(conn, jurisdiction, first, last, moment)
        except NotFoundError:
            raise typer.BadParameter(
                f"no jurisdiction {jurisdiction!r}", param_hint="--jurisdiction"
            ) from None
    if fmt == "pdf":
        target.write_bytes(render_pdf(data))
    else:
        target.write_text(render_html(data), encoding="utf-8")
    console.print(
        f"[green]wrote[/green] {target} ({target.stat().st_size:,} bytes): "
        f"{data.jurisdiction_name} {first} – {last}, projection position {data.position:,}",
        highlight=False,
    )
