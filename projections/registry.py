"""Every projection gridledger runs, by name, and every owner of fixed tables
(`SCHEMA`: the tables outside the projections' generations, made by `migrate`)."""

from __future__ import annotations

from projections.audit import checkpoints
from projections.audit.journal import AuditJournal
from projections.audit.merkle_log import MerkleLog
from projections.deadlines import index as deadlines
from projections.engine import tracking
from projections.engine.batch import Projection
from projections.store import keys
from projections.store.schema import Owner
from projections.views.activities import Activities
from projections.views.assessments import Assessments
from projections.views.jurisdictions import Jurisdictions, Rosters
from projections.views.members import Members, Organisations
from projections.views.pledges import Pledges
from projections.views.points import PointsProjection, PointsRulesProjection
from projections.views.tickets import Tickets
from projections.views.tickets_timeline import TicketTimeline

SCHEMA: tuple[Owner, ...] = (
    ("tracking", tracking.DDL),
    ("checkpoints", checkpoints.DDL),
    ("deadlines", deadlines.DDL),
    ("data_keys", keys.DDL),
)
"""Every module that owns fixed tables, with its DDL, in the order `migrate` applies them."""


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
