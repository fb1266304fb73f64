"""Who may read what: the read policy, as SQL conditions on the query tables.

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
from typing import Annotated, Any, LiteralString
from uuid import UUID

from fastapi import Depends
from psycopg import sql

from api.http.auth import Principal, PrincipalDep
from api.http.permissions import HANDLERS, OWN, is_platform
from domain.personal_data import ERASED, mask_phone

READS_EVERYTHING = ("admin", "auditor", "evaluator")
"""The roles that may read everything (an admin only with the platform scope)."""
READS_AUDIT = ("admin", "auditor")
"""The raw log, states, proofs and exports: platform admins and auditors only."""
READS_SCOPE = HANDLERS
SUBTREE = "SELECT code FROM jurisdictions WHERE path @> ARRAY[%s]::text[]"
MEMBER_IN_SUBTREE = (
    "(EXISTS (SELECT 1 FROM roster_members r WHERE r.member_id = m.id"  # noqa: S608
    f" AND r.path @> ARRAY[%s]::text[]) OR m.home_grid IN ({SUBTREE}))"
)
"""A member (the table aliased `m`) whose report-in or home grid lies in the subtree of
the code given twice."""


def in_subtree(column: str) -> str:
    """`column` names a jurisdiction in the subtree of the code given."""
    return f"{column} IN ({SUBTREE})"


SCOPE_AND_ITS_COMMUNITY = f"{SUBTREE} UNION SELECT unnest(path) FROM jurisdictions WHERE code = %s"  # noqa: S608
"""The codes of the scope's subtree, and of the nodes above the scope (among which the
community it lies in): a community-level column matches one of those exactly when
`permissions.Place.within` holds for it."""

SEES_CONTACT = (*HANDLERS, OWN)
"""Roles that read a member's phone in clear (on the rows they may read at all)."""
SEES_REPORTS = (*READS_AUDIT, *HANDLERS, OWN)
"""Roles that read what a member wrote in a ticket (description, address)."""
WITHHELD = "withheld"

Filter = tuple[sql.Composable, tuple[Any, ...]]
"""A condition and its parameters, for `api.http.reads.conditions`."""
EVERYTHING: Filter = (sql.SQL("TRUE"), ())
NOTHING: Filter = (sql.SQL("FALSE"), ())


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

    def _by_role(
        self, *, scoped: LiteralString, scoped_params: int, own: LiteralString | None
    ) -> Filter:
        if self.sees_everything:
            return EVERYTHING
        if self.scope is not None:
            return sql.SQL(scoped), (self.scope,) * scoped_params
        if own is not None and self.member_id is not None:
            return sql.SQL(own), (self.member_id,)
        return NOTHING

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

    def members(self) -> Filter:
        """Members (the table aliased `m`): in the subtree by home grid or report-in."""
        return self._by_role(
            scoped=MEMBER_IN_SUBTREE,
            scoped_params=2,
            own="m.id = %s",
        )

    def tickets(self) -> Filter:
        """Tickets: in the subtree; a resident's, those they reported."""
        return self._by_role(
            scoped="grid_path @> ARRAY[%s]::text[]",
            scoped_params=1,
            own="reporter_member_id = %s",
        )

    def roster(self) -> Filter:
        """Roster entries (the `path` of the place reported in to, `kind`, `id`)."""
        return self._by_role(
            scoped="path @> ARRAY[%s]::text[]",
            scoped_params=1,
            own="kind = 'member' AND id = %s",
        )

    def community_things(self, column: LiteralString, member: LiteralString | None) -> Filter:
        """Rows that belong to the community (or grid) in `column`: pledges, points,
        attendance; a resident's own, by the member in the column `member`."""
        own: LiteralString | None = None if member is None else f"{member} = %s"
        return self._by_role(
            scoped=f"{column} IN ({SCOPE_AND_ITS_COMMUNITY})", scoped_params=2, own=own
        )


async def viewer(principal: PrincipalDep) -> Viewer:  # async: no worker thread (see deps)
    return Viewer(principal)


ViewerDep = Annotated[Viewer, Depends(viewer)]
