"""Commands for members and organisations."""

from __future__ import annotations

from uuid import UUID

from domain.commands.base import CommandBase
from domain.member import Member


class MemberCommands(CommandBase):
    def member(self, member_id: UUID | str) -> Member:
        """The member with `member_id`, or NotFoundError."""
        return self._get(Member, member_id, "Member")
