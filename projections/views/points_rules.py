"""Rulebooks (积分规则): every version of every rule, as a range in time.

`PointsRulesProjection` ("points_rules") owns:

- `points_rulebooks`: one row per community's rulebook (its aggregate id, so later
  events, which do not name the community, find it).
- `points_rules`: one row per rule version (community, rule_code, version). A retiring
  version has `in_force = false` and no terms. `effective_from` is when the version was
  recorded; `effective_until` is when the next version was (null for the latest, which
  has `is_current`). The rules in force at a moment `t`:
  `WHERE community = %s AND in_force AND effective_from <= t
  AND (effective_until IS NULL OR effective_until > t)`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.rulebook import Rulebook
from projections.engine.batch import Batch, Projection

RULE_COLUMNS = (
    "community",
    "rule_code",
    "version",
    "rulebook_id",
    "description",
    "points",
    "kind",
    "per_day",
    "per_month",
    "per_year",
    "requires_approval",
    "trigger",
    "in_force",
    "is_current",
    "effective_from",
    "effective_until",
    "recorded_by",
    "position",
)


class PointsRulesProjection(Projection):
    name = "points_rules"
    tables = {
        "points_rulebooks": (
            "CREATE TABLE IF NOT EXISTS {points_rulebooks} ("
            " rulebook_id uuid PRIMARY KEY, community text NOT NULL UNIQUE,"
            " opened_at timestamptz NOT NULL, position bigint NOT NULL)"
        ),
        "points_rules": (
            "CREATE TABLE IF NOT EXISTS {points_rules} ("
            " community text NOT NULL, rule_code text NOT NULL, version int NOT NULL,"
            " rulebook_id uuid NOT NULL, description text, points bigint, kind text,"
            " per_day bigint, per_month bigint, per_year bigint, requires_approval boolean,"
            ' "trigger" text, in_force boolean NOT NULL, is_current boolean NOT NULL,'
            " effective_from timestamptz NOT NULL, effective_until timestamptz,"
            " recorded_by text NOT NULL, position bigint NOT NULL,"
            " PRIMARY KEY (community, rule_code, version))"
        ),
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS points_rules_g{g}_current"
        " ON {points_rules} (rulebook_id, rule_code) WHERE is_current",
        "CREATE INDEX IF NOT EXISTS points_rules_g{g}_from"
        " ON {points_rules} (community, effective_from)",
    ]
    event_types = (Rulebook.Event,)

    def apply(self, batch: Batch) -> None:
        events = [(r.position, r.event) for r in batch.events]
        ids = {e.originator_id for _, e in events}
        books = {b["rulebook_id"]: b["community"] for b in self._rulebooks(batch, ids)}
        latest = {(r["rulebook_id"], r["rule_code"]): r for r in self._current(batch, ids)}
        new_books: list[dict[str, Any]] = []
        touched: dict[tuple[str, str, int], dict[str, Any]] = {}
        for position, event in events:
            if isinstance(event, Rulebook.Opened):
                books[event.originator_id] = event.community
                new_books.append(
                    {
                        "rulebook_id": event.originator_id,
                        "community": event.community,
                        "opened_at": event.timestamp,
                        "position": position,
                    }
                )
                continue
            if not isinstance(event, Rulebook.RulePublished | Rulebook.RuleRetired):
                continue
            row = _version_row(books[event.originator_id], position, event)
            before = latest.get((event.originator_id, event.rule_code))
            if before is not None:
                before.update(is_current=False, effective_until=event.effective_from)
                touched[_key(before)] = before
            latest[(event.originator_id, event.rule_code)] = row
            touched[_key(row)] = row
        batch.upsert("points_rulebooks", ["rulebook_id"], new_books)
        batch.upsert("points_rules", ["community", "rule_code", "version"], list(touched.values()))

    @staticmethod
    def _rulebooks(batch: Batch, ids: set[UUID]) -> list[dict[str, Any]]:
        return list(batch.fetch("points_rulebooks", "rulebook_id", ids).values())

    @staticmethod
    def _current(batch: Batch, ids: set[UUID]) -> list[dict[str, Any]]:
        batch.cur.execute(
            batch.sql("SELECT * FROM {points_rules} WHERE rulebook_id = ANY(%s) AND is_current"),
            (list(ids),),
        )
        assert batch.cur.description is not None
        names = [c.name for c in batch.cur.description]
        return [dict(zip(names, row, strict=True)) for row in batch.cur.fetchall()]


def _key(row: dict[str, Any]) -> tuple[str, str, int]:
    return (row["community"], row["rule_code"], row["version"])


def _version_row(community: str, position: int, event: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(RULE_COLUMNS)
    row.update(
        community=community,
        rule_code=event.rule_code,
        version=event.version,
        rulebook_id=event.originator_id,
        in_force=isinstance(event, Rulebook.RulePublished),
        is_current=True,
        effective_from=event.effective_from,
        recorded_by=event.actor_id,
        position=position,
    )
    if isinstance(event, Rulebook.RulePublished):
        caps = event.caps
        row.update(
            description=event.description,
            points=event.points,
            kind=event.kind,
            per_day=caps.get("per_day"),
            per_month=caps.get("per_month"),
            per_year=caps.get("per_year"),
            requires_approval=event.requires_approval,
            trigger=event.trigger,
        )
    return row
