"""`gridledger verify`, `export` and `checkpoint`: the auditor's commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from api.runtime.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Sequence

    import psycopg
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from eventsourcing.persistence import Mapper

    from projections.engine.batch import Projection

console = Console()


def verify(
    bundle_file: Annotated[
        Path | None, typer.Option("--bundle", help="Check an export offline (no database).")
    ] = None,
    since_checkpoint: Annotated[
        Path | None,
        typer.Option(help="A checkpoint (JSON) you kept: prove the log only grew since."),
    ] = None,
    public_key: Annotated[
        str | None, typer.Option(help="Base64 Ed25519 key to trust (default: the bundle's).")
    ] = None,
) -> None:
    """Recompute every leaf from the event store and check the stored tree and the latest
    signed checkpoint; or check a bundle offline; or prove append-only growth."""
    from projections.audit import checkpoints

    trusted = checkpoints.public_key_from(public_key) if public_key else None
    if bundle_file is not None:
        from projections.audit.bundle import verify_bundle

        with bundle_file.open() as lines:
            bundled = verify_bundle(lines, trusted)
        _finish(bundled.problems, f"{bundled.events:,} events hash to the signed root")
        return
    import psycopg

    from api.runtime.build import database_url
    from api.runtime.signing import signing_key

    settings = Settings()
    key = trusted or signing_key(settings).public_key()
    with psycopg.connect(database_url(settings)) as conn:
        if since_checkpoint is not None:
            _since(conn, since_checkpoint, key)
            return
        from projections.audit.verify import verify_store
        from projections.store.events import max_position

        with Progress(console=console) as bar:
            task = bar.add_task("verifying", total=max(max_position(conn), 1))
            report = verify_store(conn, key, lambda n: bar.update(task, completed=n))
    size = report.checkpoint.tree_size if report.checkpoint else 0
    _finish(report.problems, f"{report.events:,} events verified; checkpoint of {size} holds")


def _since(conn: psycopg.Connection[Any], path: Path, key: Ed25519PublicKey) -> None:
    from projections.audit import checkpoints
    from projections.audit.merkle_store import StoredTree
    from projections.audit.merkle_tree import verify_consistency

    kept = checkpoints.Checkpoint.from_json(json.loads(path.read_text()))
    if not kept.verify(key):
        _finish(["the kept checkpoint is not signed by the server's key"], "")
    tree = StoredTree(conn)
    size = tree.size()
    proof = tree.consistency(kept.tree_size, size)
    ok = verify_consistency(kept.tree_size, size, kept.root_hash, tree.root(size), proof)
    problems = [] if ok else [f"the log is not an append-only extension of size {kept.tree_size}"]
    _finish(problems, f"the log of {size} extends the kept checkpoint of {kept.tree_size}")


def _finish(problems: list[str], success: str) -> None:
    if problems:
        for problem in problems:
            console.print(f"[red]FAIL[/red] {problem}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]OK[/green] {success}", highlight=False)


def export(
    out: Annotated[Path, typer.Option(help="The bundle file to write.")],
    first: Annotated[int, typer.Option("--from", help="First position.")] = 0,
    last: Annotated[int | None, typer.Option("--to", help="Last position (default: all).")] = None,
) -> None:
    """Write an export bundle of positions [from, to] with a freshly signed checkpoint."""
    import psycopg

    from api.runtime.build import database_url
    from api.runtime.signing import signing_key
    from projections.audit.bundle import export as export_bundle

    settings = Settings()
    with psycopg.connect(database_url(settings), autocommit=True) as conn, out.open("w") as file:
        for line in export_bundle(conn, signing_key(settings), first, last):
            file.write(line + "\n")
    console.print(f"[green]wrote[/green] {out}")


def checkpoint() -> None:
    """Sign a checkpoint of the stored tree now; print it as JSON."""
    import psycopg

    from api.runtime.build import database_url
    from api.runtime.signing import signing_key
    from projections.audit import checkpoints

    settings = Settings()
    with psycopg.connect(database_url(settings), autocommit=True) as conn:
        made = checkpoints.make(conn, signing_key(settings))
    typer.echo(json.dumps(made.to_json()))


def verify_rebuild(
    url: str,
    mapper: Mapper[Any],
    projections: Sequence[Projection],
    label: str,
    batch_size: int,
    workers: int,
) -> None:
    """`rebuild --verify`: rebuild into shadow tables and compare with the live ones."""
    import psycopg

    from projections.engine.shadow import verify_rebuild as compare
    from projections.store.events import max_position

    with psycopg.connect(url) as conn:
        head = max_position(conn)
    with Progress(console=console) as bar:
        task = bar.add_task(f"rebuilding {label} to compare", total=max(head, 1))
        differences = compare(
            url,
            mapper,
            projections,
            batch_size=batch_size,
            workers=workers,
            progress=lambda position: bar.update(task, completed=position),
        )
    names = ", ".join(p.name for p in projections)
    _finish([str(d) for d in differences], f"a rebuild of {names} matches the live tables")
