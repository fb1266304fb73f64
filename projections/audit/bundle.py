"""Export bundles: a range of the log that an auditor checks offline
(`projections.audit.bundle_verify`; no database, no server, nothing in it trusted).

A bundle is JSON lines. The first line is the header:

    {"format": "gridledger-bundle/2",
     "from": P, "to": Q or null,       # the positions asked for (null: to the end)
     "first_leaf": i,                  # the leaf index of the first event line
     "prefix": [[level, hex], ...],    # peaks of the tree of leaves [0, i), largest first
     "checkpoint": "<signed note>",    # C2SP tlog-checkpoint, with any cosignatures
     "tail": [hex, ...],               # consistency proof: the bundle's end -> checkpoint
     "since": {"size": m, "proof": [hex, ...]}   # only when asked: m -> checkpoint
    }

then one line per leaf, i .. e - 1 in order, each exactly the leaf's record:

    {"leaf_index", "position", "aggregate_id", "version", "topic",
     "state": base64 of the stored bytes, "leaf": hex of the leaf hash}

No readable copy of the state: the stored bytes are what the leaf commits to (personal
fields stay as stored). The first line is the last leaf before `from` when the range
starts after leaf 0 at a position other than `from`, and the last line the first leaf
after `to` when one exists and the range's end is not exactly `to`: those two edge
leaves prove that nothing of the range is hidden in the prefix or cut off at the end.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from projections.audit.merkle_store import StoredTree, UnknownLeafError
from projections.audit.signer import LogSigner, covering
from projections.store.events import EVENTS
from projections.store.rendering import rendered

_LEAVES = rendered(
    sql.SQL(
        "SELECT l.leaf_index, e.notification_id, e.originator_id, e.originator_version,"
        " e.topic, e.state, l.hash FROM merkle_leaves AS l"
        " JOIN {} AS e ON e.notification_id = l.position"
        " WHERE l.leaf_index BETWEEN %s AND %s ORDER BY l.leaf_index"
    ).format(EVENTS)
)
"""The stored leaves `[start, end]` with their events."""

FORMAT = "gridledger-bundle/2"
FIELDS = ("leaf_index", "position", "aggregate_id", "version", "topic", "state", "leaf")


PAGE = 1000
"""Leaf lines fetched per round trip from the server-side cursor."""


class TooManyLeavesError(ValueError):
    """A bundle asked for holds more leaves than the limit allows."""


"""Leaf lines fetched per round trip from the server-side cursor."""


@dataclass(frozen=True)
class Bundle:
    """A bundle made ready: its header line and the leaves [start, end] it holds."""

    header: str
    start: int
    end: int

    @property
    def leaves(self) -> int:
        return self.end - self.start + 1


def export(
    conn: psycopg.Connection[Any],
    signer: LogSigner | None,
    first: int,
    last: int | None,
    since: int | None = None,
) -> Iterator[str]:
    """The bundle of the events at positions [first, last] (last None: to the end),
    under the latest checkpoint (a new one signed if it does not cover them), with a
    consistency proof from tree size `since` if given."""
    ready = prepare(conn, signer, first, last, since)
    yield ready.header
    yield from leaf_lines(conn, ready.start, ready.end)


def prepare(
    conn: psycopg.Connection[Any],
    signer: LogSigner | None,
    first: int,
    last: int | None,
    since: int | None = None,
    max_leaves: int | None = None,
) -> Bundle:
    """The header of the bundle of positions [first, last] and its leaf range (see
    `export`); UnknownLeafError if the range holds no event, TooManyLeavesError (before
    anything is signed) if it holds more than `max_leaves` leaves."""
    tree = StoredTree(conn)
    size = tree.size()
    if size == 0:
        raise UnknownLeafError("the log is empty")
    start, end, shown_to = _leaves(conn, size, first, last)
    if max_leaves is not None and end - start + 1 > max_leaves:
        raise TooManyLeavesError(
            f"positions {first} to {'the end' if last is None else last} hold "
            f"{end - start + 1} events (edge leaves included); a bundle holds at most "
            f"{max_leaves} (audit_export_max_events): ask for a smaller range"
        )
    checkpoint = covering(conn, signer, end + 1)
    total = checkpoint.tree_size
    if since is not None and not 0 <= since <= total:
        raise UnknownLeafError(f"tree size {since} is not within the checkpoint's {total}")
    header: dict[str, Any] = {
        "format": FORMAT,
        "from": first,
        "to": shown_to,
        "first_leaf": start,
        "prefix": [[level, h.hex()] for level, h in tree.peaks(start)],
        "checkpoint": checkpoint.signed_note(),
        "tail": _hexes(tree.consistency(end + 1, total)),
    }
    if since is not None:
        proof = tree.consistency(since, total) if since else []
        header["since"] = {"size": since, "proof": _hexes(proof)}
    return Bundle(json.dumps(header, ensure_ascii=False), start, end)


def leaf_lines(conn: psycopg.Connection[Any], start: int, end: int) -> Iterator[str]:
    """The lines of leaves [start, end] in order, read PAGE at a time from a
    server-side cursor (memory stays constant whatever the range)."""
    with conn.transaction(), conn.cursor(name="bundle_leaves") as cursor:
        cursor.itersize = PAGE
        cursor.execute(_LEAVES, (start, end))
        for row in cursor:
            index, position, aggregate_id, version, topic, state, leaf = row
            values = (index, position, str(aggregate_id), version, topic)
            record = dict(zip(FIELDS, values, strict=False))
            record["state"] = base64.b64encode(bytes(state)).decode()
            record["leaf"] = bytes(leaf).hex()
            yield json.dumps(record, ensure_ascii=False)


def _hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _leaves(
    conn: psycopg.Connection[Any], size: int, first: int, last: int | None
) -> tuple[int, int, int | None]:
    """The leaf range to export, edge leaves included, and the `to` to state."""
    start = _index(conn, "SELECT min(leaf_index) FROM merkle_leaves WHERE position >= %s", first)
    if start is None:
        raise UnknownLeafError(f"no event at or after position {first}")
    if start > 0 and _position(conn, start) != first:
        start -= 1  # the edge leaf: nothing of the range before it
    if last is None:
        return start, size - 1, None
    end = _index(conn, "SELECT max(leaf_index) FROM merkle_leaves WHERE position <= %s", last)
    if end is None or end < start or _position(conn, end) < first:
        raise UnknownLeafError(f"no events between positions {first} and {last}")
    if _position(conn, end) == last:
        return start, end, last
    if end + 1 < size:
        return start, end + 1, last  # the edge leaf: nothing of the range after `end`
    return start, end, _position(conn, end)  # the log ends inside the range


def _index(conn: psycopg.Connection[Any], query: str, position: int) -> int | None:
    row = conn.execute(query, (position,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _position(conn: psycopg.Connection[Any], index: int) -> int:
    row = conn.execute(
        "SELECT position FROM merkle_leaves WHERE leaf_index = %s", (index,)
    ).fetchone()
    assert row is not None
    return int(row[0])
