"""Who may read what: the read policy, by role. A caller's `Viewer.reach` says what it
sees (everything, a scope's subtree, or its own rows); the query functions of the views
(`projections.views.<family>.visible`) turn that into SQL conditions on their tables.

Every query adds the caller's condition to its own, so a list holds only what the
caller may see and a single resource the caller may not see is not found (404, the
same answer as an unknown id: a reader learns nothing about what lies outside its
view). The policy, by role:

- a platform admin (scope `*`), `auditor`, `evaluator`: everything.
- staff (`street_staff`, `department_staff`, `community_staff`), `grid_worker` and
  an `admin` of any other scope:
  within the token's scope. People and tickets strictly in the scope's subtree: members
  whose home grid or a report-in lies in it, tickets in it, roster entries in it.
  Pledges, points and activity attendance belong to a community: those of the
  communities in the subtree, and of the community the scope lies in (a grid worker
  sees its community's, the same rule by which it acts on them; see permissions).
- `resident`: their own member record, points, ledger and entries, their own pledges,
  the tickets they reported, their own attendance and roster entries.
- everyone authenticated: the jurisdiction tree, organisations, activities (the
  notice, without other people's attendance) and rulebooks: public notices.

Personal data by purpose (PIPL Art. 6, minimum necessary; see README "Personal data"):
a member's phone in clear only for those who contact residents (staff and grid
workers, within their scope) and for the resident themself; masked (`138****8000`) for
admins, auditors and evaluators, who may read one person's clear data only with a
stated reason, recorded (`GET /v1/audit/personal-data/{id}`). Evaluators read the
description and address of a ticket a member reported as `withheld`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends

from api.http.auth import Principal, PrincipalDep
from api.http.permissions import HANDLERS, OWN, is_platform
from domain.personal_data import ERASED, mask_phone
from projections.views.reading import Reach

READS_EVERYTHING = ("admin", "auditor", "evaluator")
"""The roles that may read everything (an admin only with the platform scope)."""
READS_AUDIT = ("admin", "auditor")
"""The raw log, states, proofs and exports: platform admins and auditors only."""
READS_SCOPE = HANDLERS
SEES_CONTACT = (*HANDLERS, OWN)
"""Roles that read a member's phone in clear (on the rows they may read at all)."""
SEES_REPORTS = (*READS_AUDIT, *HANDLERS, OWN)
"""Roles that read what a member wrote in a ticket (description, address)."""
WITHHELD = "withheld"


@dataclass(frozen=True)
class Viewer:
    """A caller, as a reader: which rows of each query table it may see."""

    principal: Principal

    @property
    def sees_everything(self) -> bool:
        role = self.principal.role
        return role in READS_EVERYTHING and (role != "admin" or is_platform(self.principal))

    @property
    def scope(self) -> str | None:
        """The scope whose subtree the caller reads, if it reads by scope."""
        role = self.principal.role
        by_scope = role in READS_SCOPE or (role == "admin" and not self.sees_everything)
        return self.principal.scope if by_scope else None

    @property
    def member_id(self) -> UUID | None:
        """The member a resident is (None for other roles, or a sub that is no id)."""
        if self.principal.role != OWN:
            return None
        try:
            return UUID(self.principal.sub)
        except ValueError:
            return None

    @property
    def reach(self) -> Reach:
        """What the caller sees of the query tables (their conditions are the views')."""
        return Reach(everything=self.sees_everything, scope=self.scope, member=self.member_id)

    def member_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A members row as this caller may see it: the phone masked unless its role
        needs it."""
        if self.principal.role in SEES_CONTACT:
            return row
        return {**row, "phone": mask_phone(row["phone"])}

    def ticket_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A tickets row as this caller may see it: what a member wrote withheld from
        the roles that assess rather than handle."""
        if self.principal.role in SEES_REPORTS or row.get("reporter_member_id") is None:
            return row
        location = row.get("location")
        hidden = WITHHELD if row["description"] != ERASED else ERASED
        return {
            **row,
            "description": hidden,
            "location": None if location is None else {**location, "address": hidden},
        }


async def viewer(principal: PrincipalDep) -> Viewer:  # async: no worker thread (see deps)
    return Viewer(principal)


ViewerDep = Annotated[Viewer, Depends(viewer)]
