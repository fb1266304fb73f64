"""A client's Idempotency-Key, remembered with the first answer it was given.

Saved in the same transaction as the command's own events, under an id derived
from the actor and the key, so a repeat finds it and nothing is recorded twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.base import GovernedAggregate, stable_id


class IdempotencyRecord(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Used: ClassVar[type[Any]]

    @staticmethod
    def create_id(actor_id: str, key: str) -> UUID:
        return stable_id("idempotency", actor_id, key)

    id_for = create_id

    @event("Used")
    def __init__(
        self,
        actor_id: str,
        key: str,
        fingerprint: str,
        result_id: UUID,
        result_version: int,
        extra: dict[str, Any],
    ) -> None:
        self.owner = actor_id
        self.key = key
        self.fingerprint = fingerprint
        self.result_id = result_id
        self.result_version = result_version
        self.extra = extra
