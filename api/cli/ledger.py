"""`gridledger reconcile`: check the points ledger adds up and traces to the log, and
report anomalies (see `projections.analysis.reconcile`)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.runtime.settings import Settings
from domain.calendar import LOCAL_TZ, end_of_local_day
from projections.analysis.reconcile import (
    ANOMALIES,
    CHECKS,
    DEFAULT_BURST_AWARDS,
    DEFAULT_BURST_MINUTES,
    Report,
)

console = Console()
SHOWN = 50
"""Rows shown per check or anomaly kind (`--json` gives all)."""


def parse_as_of(text: str) -> datetime:
    """An instant: ISO 8601 with an offset; without one, local (Asia/Shanghai) time; a
    date alone is the end of that local day (everything recorded on it counts)."""
    try:
        if len(text) == 10:
            return end_of_local_day(date.fromisoformat(text)) - timedelta(microseconds=1)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            "as-of must be a date (YYYY-MM-DD) or an ISO 8601 time (YYYY-MM-DDTHH:MM[:SS][+08:00])",
            param_hint="--as-of",
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=LOCAL_TZ)).astimezone(UTC)


def reconcile(
    jurisdiction: Annotated[
        str | None, typer.Option(help="Only the communities in this subtree.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Only what was recorded by then: a date (its end) or a time."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    burst_awards: Annotated[
        int, typer.Option(min=1, help="A burst: more than this many awards by one actor ...")
    ] = DEFAULT_BURST_AWARDS,
    burst_minutes: Annotated[
        int, typer.Option(min=1, help="... within this many minutes.")
    ] = DEFAULT_BURST_MINUTES,
) -> None:
    """Check that the points ledger reconciles (balances, per-community flows, postings,
    trace to the event store and to rule versions) and report anomalies. Exits 1 when
    an inconsistency is found (anomalies alone exit 0), 2 on bad input."""
    import psycopg

    from api.runtime.build import database_url
    from projections.analysis.reconcile import Options
    from projections.analysis.reconcile import reconcile as run
    from projections.analysis.trial_balance import communities_in

    cut = parse_as_of(as_of) if as_of is not None else None
    with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
        communities = None
        if jurisdiction is not None:
            communities = communities_in(conn, jurisdiction)
            if communities is None:
                raise typer.BadParameter(
                    f"no jurisdiction {jurisdiction}", param_hint="--jurisdiction"
                )
        options = Options(communities, cut, burst_awards, burst_minutes)
        report = run(conn, options)
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        _print(report, jurisdiction)
    if not report.consistent:
        raise typer.Exit(1)


def _print(report: Report, jurisdiction: str | None) -> None:
    c = report.counts
    scope = f"{jurisdiction} ({c['communities']} communities)" if jurisdiction else "all"
    when = f" as of {report.as_of.isoformat()}" if report.as_of else ""
    console.print(
        f"reconciling {scope}{when}: {c['entries']:,} entries of {c['accounts']:,} accounts,"
        f" {c['postings']:,} postings, in {report.seconds:.1f}s"
    )
    checks = Table(title="checks")
    for column in ("check", "asserts", "result"):
        checks.add_column(column)
    for name, (asserts, _) in CHECKS.items():
        failed = len(report.failures(name))
        checks.add_row(name, asserts, f"[red]{failed} failed[/red]" if failed else "[green]ok")
    console.print(checks)
    if report.findings:
        found = Table(title="inconsistencies")
        for column in ("check", "community", "account / entry", "position", "detail"):
            found.add_column(column, overflow="fold")
        for name in CHECKS:
            failures = report.failures(name)
            for f in failures[:SHOWN]:
                found.add_row(name, f.community or "", f.subject, _pos(f.position), f.detail)
            if len(failures) > SHOWN:
                found.add_row(name, "", f"... {len(failures) - SHOWN} more (--json)", "", "")
        console.print(found)
    anomalies = Table(title="anomalies")
    for column in ("kind", "community", "entry / actor", "position", "recorded", "detail"):
        anomalies.add_column(column, overflow="fold")
    counts = Table(title="anomalies by kind")
    for column in ("kind", "found", "definition"):
        counts.add_column(column)
    for kind, definition in ANOMALIES.items():
        hits = [a for a in report.anomalies if a.kind == kind]
        counts.add_row(kind, str(len(hits)), definition)
        for a in hits[:SHOWN]:
            at = a.recorded_at.isoformat(timespec="seconds") if a.recorded_at else ""
            anomalies.add_row(kind, a.community or "", a.subject, _pos(a.position), at, a.detail)
        if len(hits) > SHOWN:
            anomalies.add_row(kind, "", f"... {len(hits) - SHOWN} more (--json)", "", "", "")
    console.print(counts)
    if report.anomalies:
        console.print(anomalies)
    if report.consistent:
        console.print("[green]CONSISTENT[/green]: the ledger reconciles")
    else:
        console.print(f"[red]INCONSISTENT[/red]: {len(report.findings)} inconsistencies")


def _pos(position: int | None) -> str:
    return "" if position is None else str(position)
