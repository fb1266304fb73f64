"""Commands for pledges."""

from __future__ import annotations

from domain.commands.base import CommandBase


class PledgeCommands(CommandBase):
    pass
