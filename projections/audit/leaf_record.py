"""The canonical record of a stored event: what a Merkle leaf commits to.

    record = position        8 bytes, unsigned big-endian (the global position)
           || aggregate id   16 bytes (the UUID's bytes, RFC 4122 order)
           || version        8 bytes, unsigned big-endian
           || len(topic)     4 bytes, unsigned big-endian, then the topic in UTF-8
           || len(state)     4 bytes, unsigned big-endian, then the stored state bytes
    leaf   = SHA-256(0x00 || record)

`state` is the event store's `state` column exactly as stored (the JSON the library
wrote, metadata included), so a leaf commits to everything an event says. The same
encoding is written twice, in Python (the projection, offline bundles) and in SQL
(`gridledger verify`), and a test keeps them equal.
"""

from __future__ import annotations

import struct
from uuid import UUID

from projections.audit.merkle_tree import Hash, leaf_hash

_HEAD = struct.Struct(">Q16sQ")
_LENGTH = struct.Struct(">I")


def record(position: int, aggregate_id: UUID, version: int, topic: str, state: bytes) -> bytes:
    encoded = topic.encode()
    return b"".join(
        (
            _HEAD.pack(position, aggregate_id.bytes, version),
            _LENGTH.pack(len(encoded)),
            encoded,
            _LENGTH.pack(len(state)),
            state,
        )
    )


def event_leaf(position: int, aggregate_id: UUID, version: int, topic: str, state: bytes) -> Hash:
    return leaf_hash(record(position, aggregate_id, version, topic, state))


LEAF_SQL = (
    "sha256('\\x00'::bytea || int8send(notification_id) || uuid_send(originator_id)"
    " || int8send(originator_version) || int4send(octet_length(convert_to(topic, 'UTF8')))"
    " || convert_to(topic, 'UTF8') || int4send(octet_length(state)) || state)"
)
"""The leaf hash as a SQL expression over a row of the events table."""
