"""What auditors read: the log, streams, states, checkpoints and proofs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class JournalEntry(BaseModel):
    position: int
    aggregate_id: UUID
    aggregate_type: str
    version: int
    event_type: str
    actor_id: str | None
    actor_role: str | None
    recorded_at: datetime
    occurred_at: datetime | None
    payload: dict[str, Any]


class EventsPage(BaseModel):
    """A page of the global log; pass `next_cursor` as `after` for the next (null: the end)."""

    items: list[JournalEntry]
    next_cursor: str | None


class Stream(BaseModel):
    id: UUID
    items: list[JournalEntry]


class StateThen(BaseModel):
    id: UUID
    type: str
    version: int
    created_on: datetime
    modified_on: datetime
    state: dict[str, Any] = Field(description="The aggregate's attributes at that version.")


class CheckpointOut(BaseModel):
    origin: str
    tree_size: int
    root_hash: str = Field(description="Hex.")
    timestamp: str = Field(description="When it was signed (not itself signed).")
    key_name: str
    key_id: str = Field(description="The note key id, 8 hex digits.")
    signature: str = Field(description="Base64 of key id || Ed25519 signature over `text`.")
    text: str = Field(description="The C2SP tlog-checkpoint body the signature covers.")
    note: str = Field(description="The C2SP signed note, witness cosignatures included.")


class InclusionProof(BaseModel):
    position: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    from_size: int
    to_size: int
    from_root: str
    to_root: str
    proof: list[str]


class PublicKey(BaseModel):
    algorithm: str = "Ed25519"
    origin: str
    verifier_key: str = Field(description="To pin: name+keyid+base64(0x01 || key).")
    key_id: str
    public_key: str = Field(description="Base64 of the 32 raw bytes.")
    pem: str
