"""Every projection gridledger runs, by name."""

from __future__ import annotations

from projections.engine import Projection
from projections.families.activities import Activities
from projections.families.assessments import Assessments
from projections.families.audit import AuditJournal
from projections.families.jurisdictions import Jurisdictions, Rosters
from projections.families.members import Members, Organisations
from projections.families.merkle import MerkleLog
from projections.families.pledges import Pledges
from projections.families.points import PointsProjection, PointsRulesProjection
from projections.families.tickets import Tickets
from projections.families.tickets_timeline import TicketTimeline


def all_projections() -> dict[str, Projection]:
    projections: list[Projection] = [
        AuditJournal(),
        MerkleLog(),
        Jurisdictions(),
        Rosters(),
        Members(),
        Organisations(),
        Activities(),
        Pledges(),
        PointsProjection(),
        PointsRulesProjection(),
        Tickets(),
        TicketTimeline(),
        Assessments(),
    ]
    return {p.name: p for p in projections}
