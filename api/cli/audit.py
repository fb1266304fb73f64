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

    from eventsourcing.persistence import Mapper

    from projections.engine.batch import Projection

console = Console()


def _pinned(public_key: str | None, key_file: Path | None, settings: Settings | None) -> Any:
    """The log key to verify with: the auditor's (`--public-key`, `--public-key-file`),
    else, with the database at hand, the server's own; printed either way."""
    from projections.audit.note import Ed25519Verifier, NoteError

    text = key_file.read_text().strip() if key_file is not None else public_key
    if text is None and settings is not None:
        from api.runtime.signing import signing_key

        verifier = signing_key(settings).verifier()
    elif text is None:
        raise typer.BadParameter(
            "pin the log's key: --public-key or --public-key-file (the verifier_key of"
            " GET /v1/audit/public-key, name+keyid+base64)"
        )
    else:
        try:
            verifier = Ed25519Verifier.from_vkey(text)
        except NoteError as error:
            raise typer.BadParameter(f"the log key: {error}") from None
    console.print(f"key checked: {verifier.vkey()}", highlight=False, soft_wrap=True)
    return verifier


def _witnesses(keys: list[str], required: int | None) -> tuple[list[Any], int]:
    from projections.audit.note import NoteError
    from projections.audit.tlog_cosignature import CosignatureVerifier

    try:
        found = [CosignatureVerifier.from_vkey(k.strip()) for k in keys]
    except NoteError as error:
        raise typer.BadParameter(f"a witness key: {error}") from None
    quorum = (1 if found else 0) if required is None else required
    if quorum > len(found):
        raise typer.BadParameter(f"{quorum} witnesses required of {len(found)} keys given")
    if quorum:
        console.print(f"witness policy: at least {quorum} of {len(found)} keys", highlight=False)
    return found, quorum


def _kept(path: Path | None) -> Any:
    if path is None:
        return None
    from projections.audit.checkpoints import CheckpointError, read_kept

    try:
        return read_kept(path.read_text(encoding="utf-8"))
    except CheckpointError as error:
        raise typer.BadParameter(f"{path}: {error}") from None


def verify(
    bundle_file: Annotated[
        Path | None, typer.Option("--bundle", help="Check an export offline (no database).")
    ] = None,
    since_checkpoint: Annotated[
        Path | None,
        typer.Option(help="A checkpoint you kept (note or JSON): prove the log only grew since."),
    ] = None,
    public_key: Annotated[
        str | None, typer.Option(help="The log's verifier key, name+keyid+base64, to pin.")
    ] = None,
    public_key_file: Annotated[
        Path | None, typer.Option(help="A file holding the log's verifier key.")
    ] = None,
    witness: Annotated[
        list[str] | None, typer.Option(help="A trusted witness's verifier key (repeatable).")
    ] = None,
    witnesses_required: Annotated[
        int | None, typer.Option(min=0, help="How many of --witness must cosign (default 1).")
    ] = None,
    first: Annotated[
        int | None, typer.Option("--from", help="The first position you asked for.")
    ] = None,
    last: Annotated[
        int | None, typer.Option("--to", help="The last position you asked for.")
    ] = None,
) -> None:
    """Recompute every leaf from the event store and check the stored tree and every
    signed checkpoint; or check a bundle offline against a pinned key; or prove
    append-only growth since a kept checkpoint."""
    witnesses, quorum = _witnesses(witness or [], witnesses_required)
    kept = _kept(since_checkpoint)
    if bundle_file is not None:
        pinned = _pinned(public_key, public_key_file, None)
        _verify_bundle(bundle_file, pinned, witnesses, quorum, first, last, kept)
        return
    import psycopg

    from api.runtime.build import database_url

    settings = Settings()
    log = _pinned(public_key, public_key_file, settings)
    with psycopg.connect(database_url(settings)) as conn:
        if kept is not None:
            _since(conn, kept, log)
            return
        from projections.audit.verify import verify_store
        from projections.store.events import max_position

        with Progress(console=console) as bar:
            task = bar.add_task("verifying", total=max(max_position(conn), 1))
            report = verify_store(
                conn, log, lambda n: bar.update(task, completed=n), witnesses, quorum
            )
    size = report.checkpoint.tree_size if report.checkpoint else 0
    _finish(
        report.problems,
        f"{report.events:,} events verified; {report.checkpoints} checkpoints hold"
        f" (the latest of {size} leaves)",
    )


def _verify_bundle(
    bundle_file: Path,
    pinned: Any,
    witnesses: list[Any],
    quorum: int,
    first: int | None,
    last: int | None,
    kept: Any,
) -> None:
    """`verify --bundle`: check an export offline against the pinned key."""
    from projections.audit.bundle_verify import Policy, verify_bundle

    policy = Policy(pinned, witnesses, quorum)
    with bundle_file.open(encoding="utf-8") as lines:
        bundled = verify_bundle(lines, policy, first, last, kept)
    cosigned = f"; cosigned by {', '.join(bundled.witnesses)}" if bundled.witnesses else ""
    since = f"; it extends the kept checkpoint of {kept.tree_size}" if kept else ""
    _finish(bundled.problems, f"{bundled.verified}{cosigned}{since}")


def _since(conn: Any, kept: Any, log: Any) -> None:
    from projections.audit.checkpoints import CheckpointError, open_checkpoint
    from projections.audit.merkle_store import StoredTree
    from projections.audit.merkle_tree import verify_consistency

    try:
        open_checkpoint(kept, log)
    except CheckpointError as error:
        _finish([f"the kept checkpoint: {error}"], "")
    tree = StoredTree(conn)
    size = tree.size()
    if kept.tree_size > size:
        _finish(
            [f"the log has {size} leaves, fewer than the kept checkpoint's {kept.tree_size}"], ""
        )
    proof = tree.consistency(kept.tree_size, size) if kept.tree_size else []
    ok = kept.tree_size == 0 or verify_consistency(
        kept.tree_size, size, kept.root_hash, tree.root(size), proof
    )
    problems = [] if ok else [f"the log is not an append-only extension of size {kept.tree_size}"]
    _finish(problems, f"the log of {size} extends the kept checkpoint of {kept.tree_size}")


def _finish(problems: list[str], success: str) -> None:
    if problems:
        for problem in problems:
            console.print(f"[red]FAIL[/red] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"[green]OK[/green] {success}", highlight=False, soft_wrap=True)


def export(
    out: Annotated[Path, typer.Option(help="The bundle file to write.")],
    first: Annotated[int, typer.Option("--from", help="First position.")] = 0,
    last: Annotated[int | None, typer.Option("--to", help="Last position (default: all).")] = None,
    since: Annotated[
        int | None, typer.Option(help="Add a consistency proof from this tree size (yours).")
    ] = None,
) -> None:
    """Write an export bundle of positions [from, to] under the latest checkpoint."""
    import psycopg

    from api.runtime.build import database_url
    from projections.audit.bundle import export as export_bundle

    settings = Settings()
    with psycopg.connect(database_url(settings), autocommit=True) as conn, out.open("w") as file:
        for line in export_bundle(conn, _signer(settings), first, last, since):
            file.write(line + "\n")
    console.print(f"[green]wrote[/green] {out}")


def _signer(settings: Settings) -> Any:
    from api.runtime.signing import log_signer

    return log_signer(settings)


def checkpoint() -> None:
    """Sign a checkpoint of the stored tree now (if it extends the last one); print it
    as JSON (its `note` is the C2SP signed note)."""
    import psycopg

    from api.runtime.build import database_url
    from projections.audit.signer import RefusedError, sign_or_record

    settings = Settings()
    with psycopg.connect(database_url(settings), autocommit=True) as conn:
        try:
            made = sign_or_record(conn, _signer(settings))
        except RefusedError as error:
            _finish([error.reason], "")
        from projections.audit.witnessing import publish

        made = publish(conn, made, settings.audit_witnesses)
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


def witness(
    key_file: Annotated[Path, typer.Option(help="The witness's cosigner key (made if absent).")],
    state_file: Annotated[Path, typer.Option(help="Where the last cosigned sizes are kept.")],
    log: Annotated[
        list[str], typer.Option(help="A log to witness: its verifier key (repeatable).")
    ],
    name: Annotated[str | None, typer.Option(help="The witness's name, to make a new key.")] = None,
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="0: any free port.")] = 7380,
) -> None:
    """Run a C2SP tlog-witness: cosign each checkpoint of the given logs that
    consistently extends the last one cosigned (POST /add-checkpoint)."""
    import signal

    from projections.audit.note import Ed25519Verifier, NoteError
    from projections.audit.witness import Witness, cosigner_key, serve

    try:
        key = cosigner_key(key_file, name)
        logs = [Ed25519Verifier.from_vkey(v.strip()) for v in log]
        witnessing = Witness(key, logs, state_file)
    except (NoteError, ValueError) as error:
        raise typer.BadParameter(str(error)) from None
    except BlockingIOError:
        raise typer.BadParameter(f"another witness holds {state_file}") from None
    server = serve(witnessing, host, port)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as Ctrl-C does
    print(f"witness {key.vkey()}", flush=True)
    print(f"listening on http://{host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        witnessing.close()
