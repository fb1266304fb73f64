"""Every projection gridledger runs, by name."""

from __future__ import annotations

from projections.audit.journal import AuditJournal
from projections.audit.merkle_log import MerkleLog
from projections.engine.batch import Projection
from projections.views.activities import Activities
from projections.views.assessments import Assessments
from projections.views.jurisdictions import Jurisdictions, Rosters
from projections.views.members import Members, Organisations
from projections.views.pledges import Pledges
from projections.views.points import PointsProjection, PointsRulesProjection
from projections.views.tickets import Tickets
from projections.views.tickets_timeline import TicketTimeline


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
