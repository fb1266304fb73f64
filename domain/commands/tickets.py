"""Commands for tickets."""

from __future__ import annotations

from domain.commands.base import CommandBase


class TicketCommands(CommandBase):
    pass
