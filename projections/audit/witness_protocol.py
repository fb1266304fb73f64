"""The add-checkpoint call of c2sp.org/tlog-witness: request, responses, a pure handler.

Request: `POST <submission prefix>/add-checkpoint`, body (every line ends in \\n):

    old <size of the previous checkpoint: ASCII decimal, no leading zeroes, 0 if none>
    <base64 consistency proof hash>        zero or more lines, at most 63
    <empty line>
    <the signed checkpoint note, which MAY carry several signatures>

The witness's answers, in the order the spec lists its checks (`handle_add_checkpoint`
applies them in this order):

* 400 Bad Request: the body does not parse (not spec text: the spec names 400 only for
  the next case; a malformed body cannot be processed otherwise), or the old size is
  larger than the checkpoint size ("MUST respond with a 400 Bad Request").
* 404 Not Found: the checkpoint origin is not a log the witness knows. (Unknown origin
  is 404, not 403.)
* 403 Forbidden: none of the signatures verifies against a public key the witness
  trusts for that origin; signatures from unknown keys are ignored.
* 409 Conflict: the old size is not the size of the latest checkpoint the witness
  cosigned for the origin (0 if none). Body: that size in decimal and a newline;
  `Content-Type: text/x.tlog.size`. A client that knows nothing may send `old 0` to
  learn it.
* 422 Unprocessable Entity: the proof lines are not an RFC 6962 consistency proof from
  the old size to the checkpoint size (the proof MUST be empty if the old size is 0).
* 409 Conflict: the old size equals the checkpoint size but the root hashes differ.
  (The spec gives no body for this case; this module sends the same size body.)
* 200: the witness records the checkpoint as its latest for the origin (persisted, and
  atomically with the old-size check, before responding) and answers one or more note
  signature lines, each `— ...` ending in \\n, cosignatures by its key(s). The client
  ignores cosignatures from unknown keys; it may append the body to the checkpoint and
  open the result with its trusted witness keys.

The witness MAY log a request whose signature is valid but whose proof fails, and MUST
NOT cosign it. The spec names no content type for 200. The atomic read-check-persist is
the caller's job: `handle_add_checkpoint` only computes the answer and the new state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from projections.audit.merkle_tree import verify_consistency
from projections.audit.note import (
    NoteError,
    Signature,
    Verifier,
    b64decode_strict,
    b64encode,
    open_note,
    parse_signature_lines,
    split_note,
)
from projections.audit.tlog_checkpoint import (
    HASH_SIZE,
    Checkpoint,
    MalformedCheckpointError,
    parse_checkpoint,
    parse_decimal,
)
from projections.audit.tlog_cosignature import CosignerKey, cosign

MAX_PROOF_LINES: Final = 63
SIZE_CONTENT_TYPE: Final = "text/x.tlog.size"
_OLD_LINE: Final = re.compile(r"old ([0-9]+)\Z", re.ASCII)


class MalformedRequestError(NoteError):
    """An add-checkpoint body (or response body) that does not parse."""


@dataclass(frozen=True)
class AddCheckpointRequest:
    old_size: int
    proof: tuple[bytes, ...]
    checkpoint_note: bytes  # the signed checkpoint, signatures included


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], checkpoint_note: bytes) -> bytes:
    """The request body; refuses what `parse_add_checkpoint` would refuse."""
    lines = [f"old {old_size}\n"] + [b64encode(h) + "\n" for h in proof]
    body = "".join(lines).encode("ascii") + b"\n" + checkpoint_note
    parse_add_checkpoint(body)
    return body


def _parse_old_line(line: str) -> int:
    match = _OLD_LINE.match(line)
    if match is None:
        raise MalformedRequestError(f"first line {line!r} is not `old <size>`")
    try:
        return parse_decimal(match.group(1), "old size")
    except MalformedCheckpointError as exc:
        raise MalformedRequestError(str(exc)) from exc


def _parse_proof_line(line: str) -> bytes:
    try:
        raw = b64decode_strict(line)
    except ValueError as exc:
        raise MalformedRequestError(f"proof line {line!r}: {exc}") from exc
    if len(raw) != HASH_SIZE:
        raise MalformedRequestError(f"proof line {line!r} is not a {HASH_SIZE}-byte hash")
    return raw


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """Parse a request body; the checkpoint must be a well-formed signed checkpoint."""
    head, sep, note = bytes(body).partition(b"\n\n")
    if not sep:
        raise MalformedRequestError("no empty line after the proof")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError as exc:
        raise MalformedRequestError("old size and proof lines must be ASCII") from exc
    old_size = _parse_old_line(lines[0])
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise MalformedRequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = tuple(_parse_proof_line(line) for line in lines[1:])
    try:
        parse_checkpoint(split_note(note)[0])
    except NoteError as exc:
        raise MalformedRequestError(f"checkpoint: {exc}") from exc
    return AddCheckpointRequest(old_size, proof, note)


def format_size_body(size: int) -> bytes:
    """The 409 body (Content-Type text/x.tlog.size)."""
    return f"{size}\n".encode("ascii")


def parse_size_body(body: bytes) -> int:
    try:
        text = bytes(body).decode("ascii")
    except UnicodeDecodeError as exc:
        raise MalformedRequestError("size body is not ASCII") from exc
    if not text.endswith("\n"):
        raise MalformedRequestError("size body does not end in a newline")
    try:
        return parse_decimal(text[:-1], "tree size")
    except MalformedCheckpointError as exc:
        raise MalformedRequestError(str(exc)) from exc


def parse_cosignature_response(body: bytes) -> list[Signature]:
    """The 200 body: one or more note signature lines (not verified here)."""
    try:
        return parse_signature_lines(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, NoteError) as exc:
        raise MalformedRequestError(f"cosignature response: {exc}") from exc


@dataclass(frozen=True)
class LogState:
    """The latest checkpoint a witness cosigned for one origin."""

    size: int
    root_hash: bytes


@dataclass(frozen=True)
class WitnessResponse:
    status: int
    body: bytes = b""
    content_type: str | None = None


def _conflict(size: int) -> WitnessResponse:
    return WitnessResponse(409, format_size_body(size), SIZE_CONTENT_TYPE)


def _check_tree(
    request: AddCheckpointRequest, checkpoint: Checkpoint, state: LogState | None
) -> WitnessResponse | None:
    """The size and proof checks, in the spec's order; None if they all pass."""
    known = state or LogState(0, b"")
    if request.old_size > checkpoint.size:
        return WitnessResponse(400, b"old size is larger than the checkpoint size\n")
    if request.old_size != known.size:
        return _conflict(known.size)
    if request.old_size == checkpoint.size and request.proof:
        return WitnessResponse(422, b"a proof between equal sizes must be empty\n")
    if request.old_size == checkpoint.size and checkpoint.root_hash != known.root_hash:
        return _conflict(known.size)
    if known.size == 0:
        if request.proof:
            return WitnessResponse(422, b"the proof from size 0 must be empty\n")
        return None
    if not verify_consistency(
        known.size, checkpoint.size, known.root_hash, checkpoint.root_hash, request.proof
    ):
        return WitnessResponse(
            422, f"no consistency from {known.size} to {checkpoint.size}: proof fails\n".encode()
        )
    return None


def handle_add_checkpoint(
    body: bytes,
    log_keys: Mapping[str, Sequence[Verifier]],
    latest: Mapping[str, LogState],
    cosigners: Sequence[CosignerKey],
    timestamp: int,
) -> tuple[WitnessResponse, LogState | None]:
    """The answer to one add-checkpoint body, and the state to persist (None: keep)."""
    if not cosigners:
        raise ValueError("a witness needs at least one cosigner key")
    try:
        request = parse_add_checkpoint(body)
        text = split_note(request.checkpoint_note)[0]
        checkpoint = parse_checkpoint(text)
    except NoteError as exc:
        return WitnessResponse(400, f"{exc}\n".encode()), None
    keys = log_keys.get(checkpoint.origin)
    if not keys:
        return WitnessResponse(404, b"unknown log origin\n"), None
    try:
        open_note(request.checkpoint_note, keys)
    except NoteError as exc:
        return WitnessResponse(403, f"{exc}\n".encode()), None
    refusal = _check_tree(request, checkpoint, latest.get(checkpoint.origin))
    if refusal is not None:
        return refusal, None
    lines = [cosign(text, key, timestamp) for key in cosigners]
    return WitnessResponse(200, "".join(lines).encode()), LogState(
        checkpoint.size, checkpoint.root_hash
    )
