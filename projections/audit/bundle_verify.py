"""Offline verification of an export bundle (`projections.audit.bundle`), trusting
nothing in it: not a key, not a readable field, not the range it claims.

The auditor pins the log's verifier key (and, optionally, witness keys and a quorum).
The checks, each failure named:

1. the checkpoint note is signed by the pinned key for its origin (and cosigned by at
   least `quorum` of the witnesses);
2. the prefix is the peaks of exactly `first_leaf` leaves (levels of its binary
   expansion, largest first, 32-byte hashes);
3. every line is a leaf record and nothing else, leaf indexes follow `first_leaf` one
   by one, positions rise; a listed `leaf` hash must be the record's own hash;
4. the range: only the first line may lie before `from` (the edge leaf; otherwise the
   first leaf is leaf 0 or sits at `from` exactly), only the last after `to` (the edge
   leaf; otherwise the last sits at `to`, or, `to` open, the bundle reaches the
   checkpoint's end): so no event of [from, to] hides in the prefix or past the end;
5. the prefix and the recomputed leaves give the root of the bundle's end, and the
   `tail` proves that root consistent with the signed one (RFC 9162 2.1.4.2);
6. with a kept checkpoint (`since`), its consistency with the signed one.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from projections.audit import checkpoints
from projections.audit.bundle import FIELDS, FORMAT
from projections.audit.checkpoints import Checkpoint, CheckpointError, open_checkpoint
from projections.audit.leaf_record import event_leaf
from projections.audit.merkle_tree import Frontier, peaks, verify_consistency
from projections.audit.note import Ed25519Verifier
from projections.audit.tlog_cosignature import CosignatureVerifier

HEADER_FIELDS = {"format", "from", "to", "first_leaf", "prefix", "checkpoint", "tail", "since"}


class BundleError(Exception):
    """Raised when a bundle fails a check; the message names the check."""


@dataclass
class BundleReport:
    events: int = 0
    checkpoint: Checkpoint | None = None
    witnesses: tuple[str, ...] = ()
    verified: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Policy:
    """What the auditor trusts: the log's key, witness keys and how many must cosign."""

    log: Ed25519Verifier
    witnesses: Sequence[CosignatureVerifier] = ()
    quorum: int = 0


def verify_bundle(
    lines: Iterable[str],
    policy: Policy,
    want_from: int | None = None,
    want_to: int | None = None,
    since: Checkpoint | None = None,
) -> BundleReport:
    """Check a bundle against `policy`; the range is `want_from`/`want_to` when the
    auditor gives them, else the header's."""
    report = BundleReport()
    try:
        _Check(report, policy, since).run(iter(lines), want_from, want_to)
    except BundleError as error:
        report.problems.append(str(error))
    return report


def _json(line: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        raise BundleError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise BundleError(f"{what} is not a JSON object")
    return value


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BundleError(f"{what} is not a non-negative integer")
    return value


def _hash(value: Any, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise BundleError(f"{what} is not a 32-byte hex hash")
    return raw


def _hashes(value: Any, what: str) -> list[bytes]:
    if not isinstance(value, list):
        raise BundleError(f"{what} is not a list of hashes")
    return [_hash(h, what) for h in value]


class _Check:
    def __init__(self, report: BundleReport, policy: Policy, since: Checkpoint | None) -> None:
        self.report = report
        self.policy = policy
        self.since = since

    def run(self, stream: Any, want_from: int | None, want_to: int | None) -> None:
        header = _json(next(stream, "null"), "the header")
        if header.get("format") != FORMAT:
            raise BundleError(f"not a {FORMAT} bundle")
        unknown = sorted(set(header) - HEADER_FIELDS)
        if unknown:
            raise BundleError(f"the header carries fields no check covers: {', '.join(unknown)}")
        signed = self._checkpoint(header)
        lo = _int(header.get("from"), "from") if want_from is None else want_from
        to = header.get("to") if want_to is None else want_to
        hi = None if to is None else _int(to, "to")
        first_leaf = _int(header.get("first_leaf"), "first_leaf")
        tree = self._prefix(header.get("prefix"), first_leaf)
        records = [self._record(_json(line, f"line {n}"), n) for n, line in enumerate(stream, 2)
                   if line.strip()]  # fmt: skip
        for n, (index, position, leaf) in enumerate(records):
            if index != first_leaf + n:
                raise BundleError(f"leaf {first_leaf + n} is missing (found leaf {index})")
            if n and position <= records[n - 1][1]:
                raise BundleError(f"position {position} does not follow {records[n - 1][1]}")
            tree.append(leaf)
        inside = self._range(records, first_leaf, lo, hi, signed.tree_size)
        self._root(header, tree, signed)
        self._since(header, signed)
        self.report.events = len(inside)
        self.report.verified = _described(inside, lo, hi, signed, self.policy.log)

    def _checkpoint(self, header: dict[str, Any]) -> Checkpoint:
        note = header.get("checkpoint")
        if not isinstance(note, str):
            raise BundleError("the header has no checkpoint note")
        try:
            checkpoint = checkpoints.from_note(note)
            opened = open_checkpoint(
                checkpoint, self.policy.log, self.policy.witnesses, self.policy.quorum
            )
        except CheckpointError as error:
            raise BundleError(str(error)) from None
        self.report.checkpoint = checkpoint
        self.report.witnesses = opened.witnesses
        return checkpoint

    @staticmethod
    def _prefix(value: Any, first_leaf: int) -> Frontier:
        if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) for p in value
        ):
            raise BundleError("the prefix is not a list of [level, hash] peaks")
        levels = [level for level, _ in peaks(first_leaf)]
        if [p[0] for p in value] != levels:
            raise BundleError(
                f"the prefix's peaks (levels {[p[0] for p in value]}) are not those of"
                f" {first_leaf} leaves (levels {levels})"
            )
        return Frontier([(level, _hash(h, "a prefix peak")) for level, h in value])

    @staticmethod
    def _record(e: dict[str, Any], n: int) -> tuple[int, int, bytes]:
        extra = sorted(set(e) - set(FIELDS))
        if extra:
            raise BundleError(
                f"line {n} carries fields that are not part of the hashed record:"
                f" {', '.join(extra)}"
            )
        try:
            index, position = _int(e["leaf_index"], "leaf_index"), _int(e["position"], "position")
            aggregate = UUID(str(e["aggregate_id"]))
            state = base64.b64decode(str(e["state"]), validate=True)
            topic, version = e["topic"], _int(e["version"], "version")
            if not isinstance(topic, str):
                raise BundleError(f"line {n}: the topic is not text")
            leaf = event_leaf(position, aggregate, version, topic, state)
        except (KeyError, ValueError, binascii.Error, struct.error) as error:
            raise BundleError(f"line {n} is not a leaf record ({error})") from None
        if "leaf" in e and _hash(e["leaf"], f"line {n}'s leaf") != leaf:
            kind = topic.rsplit(":", 1)[-1]
            raise BundleError(
                f"position {position} ({kind} of {aggregate} v{version}) is not the event the"
                " signed log recorded: its listed leaf hash is not the hash of its record"
            )
        return index, position, leaf

    @staticmethod
    def _range(
        records: list[tuple[int, int, bytes]], first_leaf: int, lo: int, hi: int | None, size: int
    ) -> list[tuple[int, int, bytes]]:
        """The records inside [lo, hi], after checking the edges prove it whole."""
        inside = list(records)
        if inside and inside[0][1] < lo:
            inside.pop(0)  # the edge leaf before the range
        elif first_leaf > 0 and (not inside or inside[0][1] != lo):
            where = f"position {inside[0][1]}" if inside else "its end"
            raise BundleError(
                f"the bundle starts at leaf {first_leaf} ({where}) with no edge leaf before"
                f" position {lo}: events of the range may be folded into its prefix"
            )
        if hi is not None and inside and inside[-1][1] > hi:
            inside.pop()  # the edge leaf after the range
        elif hi is not None and (not inside or inside[-1][1] != hi):
            end = f"position {inside[-1][1]}" if inside else "no event"
            raise BundleError(
                f"the bundle ends at {end}, before position {hi}, and shows no leaf after it:"
                " the range asked for is cut short"
            )
        elif hi is None and first_leaf + len(records) != size:
            raise BundleError(
                f"the bundle stops at leaf {first_leaf + len(records)} of the signed tree of"
                f" {size}: the range to the end is cut short"
            )
        outside = [p for _, p, _ in inside if p < lo or (hi is not None and p > hi)]
        if outside:
            raise BundleError(f"position {outside[0]} lies outside the range asked for")
        return inside

    @staticmethod
    def _root(header: dict[str, Any], tree: Frontier, signed: Checkpoint) -> None:
        tail = _hashes(header.get("tail"), "the tail proof")
        if tree.size > signed.tree_size or not verify_consistency(
            tree.size, signed.tree_size, tree.root(), signed.root_hash, tail
        ):
            raise BundleError(
                f"the prefix and the {tree.size} leaves do not hash to a tree that the signed"
                f" checkpoint of {signed.tree_size} leaves extends (root or tail proof wrong)"
            )

    def _since(self, header: dict[str, Any], signed: Checkpoint) -> None:
        if self.since is None:
            return
        kept, given = self.since, header.get("since")
        try:
            open_checkpoint(kept, self.policy.log)
        except CheckpointError as error:
            raise BundleError(f"the kept checkpoint: {error}") from None
        if not isinstance(given, dict) or given.get("size") != kept.tree_size:
            raise BundleError(
                f"the bundle carries no consistency proof from the kept checkpoint of"
                f" {kept.tree_size} leaves (export it with --since)"
            )
        proof = _hashes(given.get("proof"), "the since proof")
        if kept.tree_size == 0 and not proof:
            return
        if kept.tree_size > signed.tree_size or not verify_consistency(
            kept.tree_size, signed.tree_size, kept.root_hash, signed.root_hash, proof
        ):
            raise BundleError(
                f"the signed checkpoint of {signed.tree_size} leaves is not an append-only"
                f" extension of the kept checkpoint of {kept.tree_size} leaves"
            )


def _described(
    inside: list[tuple[int, int, bytes]],
    lo: int,
    hi: int | None,
    signed: Checkpoint,
    log: Ed25519Verifier,
) -> str:
    asked = f"positions {lo}..{hi}" if hi is not None else f"positions {lo}.. (to the end)"
    held = (
        f"{len(inside):,} events at positions {inside[0][1]}..{inside[-1][1]},"
        f" leaves {inside[0][0]}..{inside[-1][0]}"
        if inside
        else "no event"
    )
    return (
        f"{asked}: {held}, of the tree of {signed.tree_size} leaves signed by"
        f" {log.name}+{log.key_id:08x}"
    )
