"""Commands for members."""

from __future__ import annotations

from domain.commands.base import CommandBase


class MemberCommands(CommandBase):
    pass
