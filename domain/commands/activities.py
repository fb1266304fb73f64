"""Commands for activities."""

from __future__ import annotations

from domain.commands.base import CommandBase


class ActivityCommands(CommandBase):
    pass
