"""Transparency-log checkpoints, as c2sp.org/tlog-checkpoint defines their note text.

    <origin>\\n
    <tree size, ASCII decimal, no leading zeroes (0 for the empty tree)>\\n
    <base64 of the 32-byte RFC 6962 / RFC 9162 root hash>\\n
    [<extension line>\\n ...]

At least three lines, every one non-empty (extension lines included). The origin is
opaque: it SHOULD be a schema-less URL without spaces or `+`, but clients MUST NOT
assume so, so only the note rules (no control characters) are enforced on it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from projections.audit.note import (
    MalformedNoteError,
    NoteError,
    b64decode_strict,
    b64encode,
    check_note_text,
)

MAX_TREE_SIZE: Final = 2**64 - 1
HASH_SIZE: Final = 32
_DECIMAL: Final = re.compile(r"(?:0|[1-9][0-9]*)\Z", re.ASCII)


class MalformedCheckpointError(NoteError):
    """A checkpoint body that breaks c2sp.org/tlog-checkpoint."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        return format_checkpoint(self.origin, self.size, self.root_hash, self.extensions)


def parse_decimal(text: str, what: str, limit: int = MAX_TREE_SIZE) -> int:
    """ASCII decimal without leading zeroes (or `0`), at most `limit`."""
    if not _DECIMAL.match(text):
        raise MalformedCheckpointError(f"{what} {text!r} is not a canonical decimal")
    value = int(text)
    if value > limit:
        raise MalformedCheckpointError(f"{what} {value} exceeds {limit}")
    return value


def check_tree_size(size: object) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_TREE_SIZE:
        raise MalformedCheckpointError(f"tree size {size!r} is not an integer in [0, 2^64)")
    return size


def check_hash(value: object, what: str = "root hash") -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise MalformedCheckpointError(f"{what} must be {HASH_SIZE} bytes")
    return value


def _check_line(line: object, what: str) -> str:
    if not isinstance(line, str) or not line or "\n" in line:
        raise MalformedCheckpointError(f"{what} must be a non-empty single line")
    return line


def format_checkpoint(
    origin: str, size: int, root_hash: bytes, extensions: Sequence[str] = ()
) -> str:
    """The checkpoint note text (ends in a newline, carries no signature)."""
    lines = [_check_line(origin, "origin"), str(check_tree_size(size))]
    lines.append(b64encode(check_hash(root_hash)))
    lines += [_check_line(ext, "extension line") for ext in extensions]
    text = "\n".join(lines) + "\n"
    try:
        check_note_text(text)
    except MalformedNoteError as exc:
        raise MalformedCheckpointError(str(exc)) from exc
    return text


def parse_checkpoint(text: str) -> Checkpoint:
    """A checkpoint note text, strictly: the exact inverse of `format_checkpoint`."""
    try:
        check_note_text(text)
    except MalformedNoteError as exc:
        raise MalformedCheckpointError(str(exc)) from exc
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedCheckpointError("a checkpoint has at least three lines")
    if any(not line for line in lines):
        raise MalformedCheckpointError("a checkpoint has no empty lines")
    size = parse_decimal(lines[1], "tree size")
    try:
        root = b64decode_strict(lines[2])
    except ValueError as exc:
        raise MalformedCheckpointError(f"root hash: {exc}") from exc
    if len(root) != HASH_SIZE:
        raise MalformedCheckpointError(f"root hash is {len(root)} bytes, not {HASH_SIZE}")
    return Checkpoint(lines[0], size, root, tuple(lines[3:]))
