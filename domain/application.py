"""`Governance`: the one application, and the only door for commands.

Every aggregate lives in one event store, so the whole system has one total order
(the global position). Each command mixin in `domain.commands` holds one area's
commands; all of them share the pipeline in `domain.commands.base`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import EnvType

from domain.activity import Activity
from domain.commands.activities import ActivityCommands
from domain.commands.assessments import AssessmentCommands
from domain.commands.jurisdictions import JurisdictionCommands
from domain.commands.members import MemberCommands
from domain.commands.pledges import PledgeCommands
from domain.commands.points import PointsCommands
from domain.commands.privacy import PrivacyCommands
from domain.commands.tickets import TicketCommands
from domain.context import Clock, system_clock
from domain.personal_data import PersonalData
from domain.points import PointsAccount
from domain.ticket_policy import TicketPolicy
from domain.transcodings import DateAsISO


class Governance(
    JurisdictionCommands,
    MemberCommands,
    ActivityCommands,
    PledgeCommands,
    TicketCommands,
    PointsCommands,
    AssessmentCommands,
    PrivacyCommands,
):
    name = "Governance"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {PointsAccount: 50, Activity: 50}

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Clock = system_clock,
        ticket_policy: TicketPolicy | None = None,
        personal: PersonalData | None = None,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.personal = personal
        if ticket_policy is not None:
            self.ticket_policy = ticket_policy

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def close(self) -> None:
        super().close()
        if self.personal is not None:
            self.personal.close()
