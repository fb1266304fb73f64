"""A client's Idempotency-Key, remembered with the first answer it was given.

Saved in the same transaction as the command's own events, under an id derived
from the actor and the key, so a repeat finds it and nothing is recorded twice. The id
is made from the length-prefixed pair (`distinct_id`), so two actors' keys never share
one. Records saved before under the old id (actor and key joined with "/", where
("a/b", "c") and ("a", "b/c") collided) are still found by `legacy_id_for`, and
answered only if the record's own actor and key are the caller's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.base import GovernedAggregate, distinct_id, stable_id


class IdempotencyRecord(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Used: ClassVar[type[Any]]

    @staticmethod
    def create_id(actor_id: str, key: str) -> UUID:
        return distinct_id("idempotency", actor_id, key)

    id_for = create_id

    @staticmethod
    def ids_for(actor_id: str, key: str) -> tuple[UUID, UUID]:
        """Where a record of `actor_id`'s `key` may be: its id, and the id such records
        had before `distinct_id` (which two actors' keys may share: see `belongs_to`)."""
        return distinct_id("idempotency", actor_id, key), stable_id("idempotency", actor_id, key)

    def belongs_to(self, actor_id: str, key: str) -> bool:
        """Whether this is the record of `actor_id`'s `key` (not another's that met it)."""
        return bool(self.owner == actor_id and self.key == key)

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
