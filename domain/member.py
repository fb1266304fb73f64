"""Member: a person known to the community (party member or resident).

Five kinds of member are managed together (五管合一). A member reports in (报到) to
several communities if need be (双报到: where they live, and where their organisation
is), never twice to the same one; a grid named on reporting in lies inside that
community, and an organisation named has itself reported in there.

A member claims roles (认领): grid worker, building head and unit head in a grid, a
pioneer post (先锋岗) in a community or grid; only in a community they have reported
in to or live in, and never the same role, place and title twice.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from eventsourcing.domain import event

from domain.base import GovernedAggregate
from domain.errors import (
    AlreadyReportedInError,
    GridOutsideCommunityError,
    InvalidPhoneError,
    MemberErasedError,
    MemberValueError,
    NotReportedInError,
    OrganisationNotReportedInError,
    RoleAlreadyHeldError,
    RoleJurisdictionKindError,
    RoleNotHeldError,
)
from domain.jurisdiction import Jurisdiction, Kind
from domain.organisation import Organisation
from domain.personal_data import ERASED, Sealer, kid_of, plain


class MemberKind(StrEnum):
    RESIDENT = "resident"
    IN_SERVICE = "in_service"
    RETIRED = "retired"
    MOBILE = "mobile"
    ENTERPRISE = "enterprise"


class Role(StrEnum):
    GRID_WORKER = "grid_worker"
    BUILDING_HEAD = "building_head"
    UNIT_HEAD = "unit_head"
    PIONEER_POST = "pioneer_post"


ROLE_PLACES: dict[Role, list[Kind]] = {
    Role.GRID_WORKER: [Kind.GRID],
    Role.BUILDING_HEAD: [Kind.GRID],
    Role.UNIT_HEAD: [Kind.GRID],
    Role.PIONEER_POST: [Kind.COMMUNITY, Kind.GRID],
}

PHONE = re.compile(r"\+?[0-9]+")
PHONE_LENGTH = range(5, 21)

E = TypeVar("E", bound=StrEnum)


class Member(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Registered: ClassVar[type[Any]]
        ReportedIn: ClassVar[type[Any]]
        RoleClaimed: ClassVar[type[Any]]
        RoleReleased: ClassVar[type[Any]]
        Erased: ClassVar[type[Any]]

    @classmethod
    def register(
        cls,
        *,
        name: str,
        phone: str,
        kind: str,
        party_member: bool,
        home_grid: Jurisdiction | None,
        seal: Sealer = plain,
    ) -> Member:
        """A new member; `home_grid` is the grid they live in, if known. `seal` turns
        the name and phone into what the event stores (see `domain.personal_data`)."""
        name = _text(name, "name", rule="member.name")
        phone = _phone(phone)
        member_id = uuid4()
        member: Member = cls._create(
            cls.Registered,
            id=member_id,
            name=seal(member_id, "name", name),
            phone=seal(member_id, "phone", phone),
            kind=_choice(MemberKind, kind, rule="member.kind").value,
            party_member=party_member,
            home_grid=home_grid.code if home_grid else None,
            home_community=home_grid.community() if home_grid else None,
        )
        return member

    @event("Registered")
    def __init__(
        self,
        name: Any,
        phone: Any,
        kind: str,
        party_member: bool,
        home_grid: str | None,
        home_community: str | None = None,
    ) -> None:
        self.name = name
        self.phone = phone
        self.kind = kind
        self.party_member = party_member
        self.home_grid = home_grid
        self.home_community = home_community
        self.report_ins: list[dict[str, Any]] = []
        self.roles: list[dict[str, Any]] = []
        self.erased = False
        self.data_key: UUID | None = kid_of(name) or kid_of(phone)
        """The id of the key the member's personal data is sealed under (None: clear)."""

    def erase(self, legal_basis: str) -> None:
        """Erase the member's personal data (PIPL Art. 47): the event records why; the
        command layer shreds the data key once it is saved."""
        legal_basis = _text(legal_basis, "a legal basis", rule="erasure.legal_basis")
        self.require_not_erased()
        key = self.data_key
        self._erased(legal_basis=legal_basis, data_key=None if key is None else str(key))

    def require_not_erased(self) -> None:
        if self.erased:
            raise MemberErasedError(f"member {self.id} has been erased")

    @event("Erased")
    def _erased(self, legal_basis: str, data_key: str | None) -> None:
        self.erased = True
        self.name = ERASED
        self.phone = ERASED

    def report_in(
        self,
        community: Jurisdiction,
        grid: Jurisdiction | None = None,
        organisation: Organisation | None = None,
    ) -> None:
        """Report in to a community, optionally to one of its grids and through an organisation."""
        self.require_not_erased()
        if self.has_reported_in(community.code):
            raise AlreadyReportedInError("member", community.code)
        if grid is not None and not grid.contains(community.code):
            raise GridOutsideCommunityError(f"grid {grid.code} is not inside {community.code}")
        if organisation is not None and not organisation.has_reported_in(community.code):
            raise OrganisationNotReportedInError(
                f"organisation {organisation.id} has not reported in to {community.code}"
            )
        self._reported_in(
            community=community.code,
            grid=grid.code if grid else None,
            organisation_id=organisation.id if organisation else None,
        )

    def claim_role(self, role: str, jurisdiction: Jurisdiction, title: str | None = None) -> None:
        """Claim a role (认领) in a grid, or a pioneer post in a community or grid."""
        self.require_not_erased()
        chosen = _choice(Role, role, rule="role.kind")
        if title is not None:
            title = _text(title, "a role's title", rule="role.title")
        places = ROLE_PLACES[chosen]
        if jurisdiction.kind not in places:
            wanted = " or ".join(k.value for k in places)
            raise RoleJurisdictionKindError(
                f"a {chosen} is claimed in a {wanted}; {jurisdiction.code} is a {jurisdiction.kind}"
            )
        community = jurisdiction.community()
        if community is None or not self.belongs_to(community):
            raise NotReportedInError(
                f"the member has neither reported in to nor lives in {community}"
            )
        if self._held(chosen, jurisdiction.code, title):
            raise RoleAlreadyHeldError(f"the member already holds {chosen} in {jurisdiction.code}")
        self._role_claimed(
            role=chosen.value, jurisdiction=jurisdiction.code, community=community, title=title
        )

    def release_role(self, role: str, jurisdiction: str) -> None:
        """Release a held role in `jurisdiction` (every title held under it there)."""
        chosen = _choice(Role, role, rule="role.kind")
        if not self.holds_role(chosen, jurisdiction):
            raise RoleNotHeldError(f"the member does not hold {chosen} in {jurisdiction}")
        self._role_released(role=chosen.value, jurisdiction=jurisdiction)

    def has_reported_in(self, community: str) -> bool:
        return any(r["community"] == community for r in self.report_ins)

    def belongs_to(self, community: str) -> bool:
        """Whether the member lives in or has reported in to `community`."""
        return community == self.home_community or self.has_reported_in(community)

    def holds_role(self, role: str, jurisdiction: str | None = None) -> bool:
        """Whether the member holds `role` (in `jurisdiction`, when one is named)."""
        return any(
            r["role"] == role and jurisdiction in (None, r["jurisdiction"]) for r in self.roles
        )

    def _held(self, role: Role, jurisdiction: str, title: str | None) -> bool:
        return any(
            (r["role"], r["jurisdiction"], r["title"]) == (role.value, jurisdiction, title)
            for r in self.roles
        )

    @event("ReportedIn")
    def _reported_in(
        self,
        community: str,
        grid: str | None,
        organisation_id: UUID | None,
        timestamp: datetime | None = None,
    ) -> None:
        self.report_ins.append(
            {
                "community": community,
                "grid": grid,
                "organisation_id": organisation_id,
                "reported_at": timestamp,
            }
        )

    @event("RoleClaimed")
    def _role_claimed(
        self,
        role: str,
        jurisdiction: str,
        community: str,
        title: str | None,
        timestamp: datetime | None = None,
    ) -> None:
        self.roles.append(
            {
                "role": role,
                "jurisdiction": jurisdiction,
                "community": community,
                "title": title,
                "claimed_at": timestamp,
            }
        )

    @event("RoleReleased")
    def _role_released(self, role: str, jurisdiction: str) -> None:
        self.roles = [
            r for r in self.roles if (r["role"], r["jurisdiction"]) != (role, jurisdiction)
        ]


def _text(value: str, what: str, *, rule: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MemberValueError(f"{what} must not be blank", rule=rule)
    return value.strip()


def _phone(phone: str) -> str:
    if not isinstance(phone, str) or len(phone) not in PHONE_LENGTH or not PHONE.fullmatch(phone):
        raise InvalidPhoneError(
            "a phone number is 5 to 20 characters of digits, with an optional leading +"
        )  # the value itself is not repeated: an error may be logged or shown to others
    return phone


def _choice(enum: type[E], value: str, *, rule: str) -> E:
    try:
        return enum(value)
    except ValueError:
        raise MemberValueError(
            f"{value!r} is not one of {', '.join(e.value for e in enum)}", rule=rule
        ) from None
