"""The base aggregate: every event it triggers records who acted and when.

Subclasses write commands as the library's examples do: a public method checks the
rules and raises a `DomainError` before anything happens, then calls a private
`@event("PastTense")` method that only changes state. The actor, `recorded_at` (the
event's `timestamp`) and `occurred_at` come from the current `acting(...)` context,
so no command needs to pass them and none can forget them.

State and event fields hold only JSON-transcodable values (str, int, float, bool,
None, list, dict with str keys, UUID, datetime, date, Decimal), so that snapshots
and events round-trip through the store unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.context import current

NAMESPACE = uuid5(NAMESPACE_URL, "https://gridledger.example/ns")


def stable_id(*parts: object) -> UUID:
    """A deterministic id for an aggregate named by its parts (e.g. a code)."""
    return uuid5(NAMESPACE, "/".join(str(p) for p in parts))


def distinct_id(*parts: str) -> UUID:
    """A deterministic id of `parts` that no other parts share: each part is written
    with its length before it, so ("a/b", "c") and ("a", "b/c") never meet (as they do
    in `stable_id`, which joins with "/")."""
    return uuid5(NAMESPACE, "".join(f"{len(p)}:{p}" for p in parts))


class GovernedAggregate(Aggregate):
    class Event(Aggregate.Event):
        actor_id: str
        actor_role: str
        occurred_at: datetime | None

        @property
        def recorded_at(self) -> datetime:
            return self.timestamp

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _create(cls, event_class: Any, *, id: Any = None, **kwargs: Any) -> Any:
        return super()._create(event_class, id=id, **_with_context(kwargs))

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        super().trigger_event(event_class, **_with_context(kwargs))


def _with_context(kwargs: dict[str, Any]) -> dict[str, Any]:
    ctx = current()
    return {
        **kwargs,
        "actor_id": ctx.actor.id,
        "actor_role": ctx.actor.role,
        "occurred_at": ctx.occurred_at,
        "timestamp": ctx.now,
    }
