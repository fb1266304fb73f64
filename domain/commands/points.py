"""Commands for rulebooks and points accounts."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.commands.base import CommandBase


class PointsCommands(CommandBase):
    def _automatic_awards(
        self,
        *,
        trigger: str,
        community: str,
        member_id: UUID,
        source_kind: str,
        source_id: str,
        rule_code: str | None = None,
    ) -> list[Aggregate]:
        """Award the community's rules with `trigger` (or only `rule_code`) to the member
        for this source, exactly once; return the aggregates to save together with the
        triggering command (empty when nothing applies or the source already earned)."""
        return []

    def require_rule(self, community: str, rule_code: str, trigger: str) -> None:
        """Refuse unless `community`'s rulebook has `rule_code` in force with `trigger`."""
