"""Export bundles and their offline verification (no database, no server).

A bundle is JSON lines. The first line is the header:

    {"format": "gridledger-bundle/1", "from": P, "to": Q, "first_leaf": i,
     "prefix": [[level, hex], ...],   # peaks of the tree of leaves [0, i)
     "public_key": base64 of the raw Ed25519 key, "checkpoint": {...}}

then one line per event, leaves i .. checkpoint.tree_size - 1 in order:

    {"leaf_index", "position", "aggregate_id", "version", "topic",
     "state": base64 of the stored bytes, "leaf": hex of the stored leaf hash,
     "event": the state decoded as JSON (for reading only)}

The checkpoint is signed for the tree that ends at the last exported event, so the
prefix's peaks and the events' recomputed leaves must hash to its root.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from psycopg import sql

from projections.audit import checkpoints
from projections.audit.checkpoints import Checkpoint
from projections.audit.leaf_record import event_leaf
from projections.audit.merkle_store import StoredTree, UnknownLeafError
from projections.audit.merkle_tree import Frontier
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

FORMAT = "gridledger-bundle/1"


def export(
    conn: psycopg.Connection[Any], key: Ed25519PrivateKey, first: int, last: int | None
) -> Iterator[str]:
    """The bundle of the events at positions [first, last] (last: the tree's end)."""
    tree = StoredTree(conn)
    size = tree.size()
    if size == 0:
        raise UnknownLeafError("the log is empty")
    start = _leaf_from(conn, first)
    end = size - 1 if last is None else _leaf_to(conn, last)
    if start > end:
        raise UnknownLeafError(f"no events between positions {first} and {last}")
    checkpoint = checkpoints.make(conn, key, end + 1)
    header = {
        "format": FORMAT,
        "from": first,
        "to": last,
        "first_leaf": start,
        "prefix": [[level, h.hex()] for level, h in tree.peaks(start)],
        "public_key": base64.b64encode(checkpoints.raw_public(key.public_key())).decode(),
        "checkpoint": checkpoint.to_json(),
    }
    yield json.dumps(header)
    rows = conn.execute(_LEAVES, (start, end))
    for index, position, aggregate_id, version, topic, state, leaf in rows:
        yield json.dumps(
            {
                "leaf_index": index,
                "position": position,
                "aggregate_id": str(aggregate_id),
                "version": version,
                "topic": topic,
                "state": base64.b64encode(bytes(state)).decode(),
                "leaf": bytes(leaf).hex(),
                "event": _readable(bytes(state)),
            },
            ensure_ascii=False,
        )


def _leaf_from(conn: psycopg.Connection[Any], position: int) -> int:
    row = conn.execute(
        "SELECT min(leaf_index) FROM merkle_leaves WHERE position >= %s", (position,)
    ).fetchone()
    if row is None or row[0] is None:
        raise UnknownLeafError(f"no event at or after position {position}")
    return int(row[0])


def _leaf_to(conn: psycopg.Connection[Any], position: int) -> int:
    row = conn.execute(
        "SELECT max(leaf_index) FROM merkle_leaves WHERE position <= %s", (position,)
    ).fetchone()
    if row is None or row[0] is None:
        raise UnknownLeafError(f"no event at or before position {position}")
    return int(row[0])


def _readable(state: bytes) -> Any:
    try:
        return json.loads(state)
    except ValueError:
        return None


@dataclass
class BundleReport:
    events: int = 0
    checkpoint: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(lines: Iterable[str], trusted: Ed25519PublicKey | None = None) -> BundleReport:
    """Check a bundle: the checkpoint's signature (by `trusted`, else the bundle's own
    key), then every event's recomputed leaf, then the root."""
    report = BundleReport()
    stream = iter(lines)
    header = json.loads(next(stream))
    if header.get("format") != FORMAT:
        report.problems.append(f"not a {FORMAT} bundle")
        return report
    key = trusted or checkpoints.public_key_from(header["public_key"])
    checkpoint = Checkpoint.from_json(header["checkpoint"])
    report.checkpoint = checkpoint
    if not checkpoint.verify(key):
        report.problems.append(
            f"the checkpoint is not signed by key {checkpoints.key_id(key)}"
            f" (it names {checkpoint.key_id})"
        )
        return report
    recomputed = Frontier([(level, bytes.fromhex(h)) for level, h in header["prefix"]])
    listed = Frontier(recomputed.peaks)
    first_bad: str | None = None
    for line in stream:
        if not line.strip():
            continue
        e = json.loads(line)
        if e["leaf_index"] != recomputed.size:
            report.problems.append(f"leaf {recomputed.size} is missing (found {e['leaf_index']})")
            return report
        leaf = event_leaf(
            e["position"],
            UUID(e["aggregate_id"]),
            e["version"],
            e["topic"],
            base64.b64decode(e["state"]),
        )
        recomputed.append(leaf)
        listed.append(bytes.fromhex(e["leaf"]))
        report.events += 1
        if first_bad is None and leaf.hex() != e["leaf"]:
            kind = str(e["topic"]).rsplit(":", 1)[-1]
            first_bad = f"position {e['position']} ({kind} of {e['aggregate_id']} v{e['version']})"
    if recomputed.size != checkpoint.tree_size:
        report.problems.append(
            f"the bundle ends at leaf {recomputed.size};"
            f" the checkpoint covers {checkpoint.tree_size}"
        )
    elif recomputed.root() != checkpoint.root_hash:
        if first_bad is not None and listed.root() == checkpoint.root_hash:
            report.problems.append(f"{first_bad} is not the event the signed log recorded")
        else:
            report.problems.append("the events do not hash to the signed checkpoint's root")
    return report
