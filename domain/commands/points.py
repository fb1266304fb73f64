"""Commands for points."""

from __future__ import annotations

from domain.commands.base import CommandBase


class PointsCommands(CommandBase):
    pass
