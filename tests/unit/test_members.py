from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.context import Actor, acting
from domain.errors import (
    AlreadyReportedInError,
    GridOutsideCommunityError,
    InvalidPhoneError,
    MemberValueError,
    NotReportedInError,
    OrganisationNotReportedInError,
    RoleAlreadyHeldError,
    RoleJurisdictionKindError,
    RoleNotHeldError,
)
from domain.jurisdiction import Jurisdiction
from domain.member import Member, MemberKind, Role
from domain.organisation import Organisation

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def as_grid_worker() -> Iterator[None]:
    with acting(Actor("u1", "grid_worker"), now=NOW):
        yield


def node(code: str, kind: str, path: list[str]) -> Jurisdiction:
    return Jurisdiction(code=code, kind=kind, name=code, parent=path[-2], path=path)


@pytest.fixture
def places() -> dict[str, Jurisdiction]:
    return {
        "street": node("S", "street", ["D", "S"]),
        "community": node("C", "community", ["D", "S", "C"]),
        "grid": node("C-1", "grid", ["D", "S", "C", "C-1"]),
        "grid2": node("C-2", "grid", ["D", "S", "C", "C-2"]),
        "other_community": node("O", "community", ["D", "S", "O"]),
        "other_grid": node("O-1", "grid", ["D", "S", "O", "O-1"]),
    }


def register(home_grid: Jurisdiction | None = None, **overrides: Any) -> Member:
    fields: dict[str, Any] = {
        "name": "王芳",
        "phone": "13800138000",
        "kind": "in_service",
        "party_member": True,
        "home_grid": home_grid,
    }
    fields.update(overrides)
    return Member.register(**fields)


def settled(aggregate: Member | Organisation) -> Member | Organisation:
    aggregate.collect_events()
    return aggregate


def organisation_in(*communities: str) -> Organisation:
    organisation = Organisation.register(name="市供电公司")
    for code in communities:
        organisation.report_in(code, needs=[], resources=["电工"], projects=[])
    organisation.collect_events()
    return organisation


# --- registering ---


def test_registering_a_member_records_who_they_are_and_where_they_live(places) -> None:
    member = register(home_grid=places["grid"], name="  王芳 ")
    (registered,) = member.collect_events()
    assert isinstance(registered, Member.Registered)
    assert (member.name, member.phone, member.kind, member.party_member) == (
        "王芳",
        "13800138000",
        "in_service",
        True,
    )
    assert (member.home_grid, member.home_community) == ("C-1", "C")
    assert (member.report_ins, member.roles) == ([], [])
    assert (registered.actor_id, registered.timestamp) == ("u1", NOW)


def test_a_member_need_not_have_a_home_grid() -> None:
    member = register()
    assert (member.home_grid, member.home_community) == (None, None)


@pytest.mark.parametrize("kind", [k.value for k in MemberKind])
def test_every_one_of_the_five_kinds_of_member_may_register(kind: str) -> None:
    assert register(kind=kind).kind == kind


def test_an_unknown_kind_of_member_is_refused() -> None:
    with pytest.raises(MemberValueError) as refused:
        register(kind="tourist")
    assert refused.value.rule == "member.kind"


@pytest.mark.parametrize("name", ["", "   "])
def test_a_member_needs_a_name(name: str) -> None:
    with pytest.raises(MemberValueError) as refused:
        register(name=name)
    assert refused.value.rule == "member.name"


@pytest.mark.parametrize("phone", ["13800138000", "+8613800138000", "12345", "+1234", "9" * 20])
def test_phone_numbers_of_5_to_20_digits_with_an_optional_plus_are_accepted(phone: str) -> None:
    assert register(phone=phone).phone == phone


@pytest.mark.parametrize(
    "phone",
    [
        "1234",
        "9" * 21,
        "+" + "9" * 20,
        "138-0013-8000",
        "138 0013 8000",
        "++8613800",
        "１３８００１３８０００",
        "",
    ],
)
def test_other_phone_numbers_are_refused(phone: str) -> None:
    with pytest.raises(InvalidPhoneError):
        register(phone=phone)


# --- reporting in (报到) ---


def test_a_member_reports_in_to_a_community_and_one_of_its_grids(places) -> None:
    member = settled(register())
    member.report_in(places["community"], grid=places["grid"])
    assert [type(e) for e in member.collect_events()] == [Member.ReportedIn]
    assert member.report_ins == [
        {"community": "C", "grid": "C-1", "organisation_id": None, "reported_at": NOW}
    ]


def test_a_member_may_report_in_to_two_communities(places) -> None:
    member = settled(register(home_grid=places["grid"]))
    member.report_in(places["community"])
    member.report_in(places["other_community"])
    assert [r["community"] for r in member.report_ins] == ["C", "O"]


def test_a_member_cannot_report_in_to_the_same_community_twice(places) -> None:
    member = settled(register())
    member.report_in(places["community"])
    member.collect_events()
    with pytest.raises(AlreadyReportedInError) as refused:
        member.report_in(places["community"], grid=places["grid2"])
    assert refused.value.rule == "member.report_in_once"
    assert member.collect_events() == []
    assert len(member.report_ins) == 1


def test_a_grid_outside_the_community_is_refused(places) -> None:
    member = settled(register())
    with pytest.raises(GridOutsideCommunityError):
        member.report_in(places["community"], grid=places["other_grid"])
    assert member.collect_events() == []
    assert member.report_ins == []


def test_a_member_reports_in_through_an_organisation_reported_in_there(places) -> None:
    organisation = organisation_in("O")
    member = settled(register(home_grid=places["grid"]))
    member.report_in(places["other_community"], organisation=organisation)
    assert member.report_ins[0]["organisation_id"] == organisation.id


def test_an_organisation_not_reported_in_to_that_community_is_refused(places) -> None:
    organisation = organisation_in("O")
    member = settled(register())
    with pytest.raises(OrganisationNotReportedInError):
        member.report_in(places["community"], organisation=organisation)
    assert member.collect_events() == []


# --- claiming roles (认领) ---


@pytest.mark.parametrize("role", ["grid_worker", "building_head", "unit_head", "pioneer_post"])
def test_every_role_may_be_claimed_in_a_grid(places, role: str) -> None:
    member = settled(register())
    member.report_in(places["community"])
    member.collect_events()
    member.claim_role(role, places["grid"], title="3号楼" if role == "building_head" else None)
    assert [type(e) for e in member.collect_events()] == [Member.RoleClaimed]
    assert member.roles == [
        {
            "role": role,
            "jurisdiction": "C-1",
            "community": "C",
            "title": "3号楼" if role == "building_head" else None,
            "claimed_at": NOW,
        }
    ]
    assert member.holds_role(role, "C-1")


def test_a_pioneer_post_may_be_claimed_in_a_community(places) -> None:
    member = settled(register(home_grid=places["grid"]))
    member.claim_role("pioneer_post", places["community"], title="环境卫生先锋岗")
    assert member.roles[0]["jurisdiction"] == "C"


@pytest.mark.parametrize("role", ["grid_worker", "building_head", "unit_head"])
def test_grid_roles_cannot_be_claimed_in_a_community(places, role: str) -> None:
    member = settled(register(home_grid=places["grid"]))
    with pytest.raises(RoleJurisdictionKindError):
        member.claim_role(role, places["community"])
    assert member.collect_events() == []


def test_a_pioneer_post_cannot_be_claimed_in_a_street(places) -> None:
    member = settled(register(home_grid=places["grid"]))
    with pytest.raises(RoleJurisdictionKindError):
        member.claim_role("pioneer_post", places["street"])
    assert member.collect_events() == []


def test_an_unknown_role_is_refused(places) -> None:
    member = settled(register(home_grid=places["grid"]))
    with pytest.raises(MemberValueError) as refused:
        member.claim_role("mayor", places["grid"])
    assert refused.value.rule == "role.kind"
    assert member.collect_events() == []


def test_a_blank_title_is_refused(places) -> None:
    member = settled(register(home_grid=places["grid"]))
    with pytest.raises(MemberValueError) as refused:
        member.claim_role("pioneer_post", places["grid"], title="  ")
    assert refused.value.rule == "role.title"
    assert member.collect_events() == []


def test_a_role_needs_a_report_in_to_its_community(places) -> None:
    member = settled(register(home_grid=places["other_grid"]))
    with pytest.raises(NotReportedInError):
        member.claim_role("grid_worker", places["grid"])
    assert member.collect_events() == []
    member.report_in(places["community"])
    member.claim_role("grid_worker", places["grid"])
    assert member.holds_role("grid_worker", "C-1")


def test_living_in_the_community_is_enough_to_claim_a_role_in_another_of_its_grids(
    places,
) -> None:
    member = settled(register(home_grid=places["grid"]))
    member.claim_role("unit_head", places["grid2"], title="2单元")
    assert member.holds_role("unit_head", "C-2")


def test_the_same_role_in_the_same_place_with_the_same_title_cannot_be_held_twice(
    places,
) -> None:
    member = settled(register(home_grid=places["grid"]))
    member.claim_role("building_head", places["grid"], title="3号楼")
    member.collect_events()
    with pytest.raises(RoleAlreadyHeldError):
        member.claim_role("building_head", places["grid"], title=" 3号楼 ")
    assert member.collect_events() == []
    assert len(member.roles) == 1


def test_the_same_role_may_be_held_under_another_title_or_in_another_grid(places) -> None:
    member = settled(register(home_grid=places["grid"]))
    member.claim_role("building_head", places["grid"], title="3号楼")
    member.claim_role("building_head", places["grid"], title="4号楼")
    member.claim_role("building_head", places["grid2"], title="3号楼")
    assert len(member.roles) == 3


# --- releasing roles ---


def test_a_held_role_is_released_under_every_title_in_that_place(places) -> None:
    member = settled(register(home_grid=places["grid"]))
    member.claim_role("building_head", places["grid"], title="3号楼")
    member.claim_role("building_head", places["grid"], title="4号楼")
    member.claim_role("building_head", places["grid2"], title="3号楼")
    member.claim_role("grid_worker", places["grid"])
    member.collect_events()
    member.release_role("building_head", "C-1")
    assert [type(e) for e in member.collect_events()] == [Member.RoleReleased]
    assert [(r["role"], r["jurisdiction"]) for r in member.roles] == [
        ("building_head", "C-2"),
        ("grid_worker", "C-1"),
    ]


def test_a_released_role_may_be_claimed_again(places) -> None:
    member = settled(register(home_grid=places["grid"]))
    member.claim_role("grid_worker", places["grid"])
    member.release_role("grid_worker", "C-1")
    member.claim_role("grid_worker", places["grid"])
    assert member.holds_role(Role.GRID_WORKER, "C-1")


@pytest.mark.parametrize(("role", "place"), [("grid_worker", "C-1"), ("unit_head", "C-2")])
def test_a_role_not_held_there_cannot_be_released(places, role: str, place: str) -> None:
    member = settled(register(home_grid=places["grid"]))
    member.claim_role("unit_head", places["grid"])
    member.collect_events()
    with pytest.raises(RoleNotHeldError):
        member.release_role(role, place)
    assert member.collect_events() == []


def test_releasing_an_unknown_role_is_refused(places) -> None:
    member = settled(register(home_grid=places["grid"]))
    with pytest.raises(MemberValueError):
        member.release_role("mayor", "C-1")


# --- organisations (驻区单位) ---


def test_registering_an_organisation_records_its_name() -> None:
    organisation = Organisation.register(name=" 市供电公司 ")
    assert [type(e) for e in organisation.collect_events()] == [Organisation.Registered]
    assert (organisation.name, organisation.report_ins) == ("市供电公司", [])


@pytest.mark.parametrize("name", ["", "  "])
def test_an_organisation_needs_a_name(name: str) -> None:
    with pytest.raises(MemberValueError) as refused:
        Organisation.register(name=name)
    assert refused.value.rule == "organisation.name"


def test_an_organisation_reports_in_with_its_three_lists() -> None:
    organisation = settled(Organisation.register(name="市供电公司"))
    organisation.report_in(
        "C", needs=["场地"], resources=[" 电工 ", "党员志愿者"], projects=["线路检修进社区"]
    )
    assert [type(e) for e in organisation.collect_events()] == [Organisation.ReportedIn]
    assert organisation.report_ins == [
        {
            "community": "C",
            "needs": ["场地"],
            "resources": ["电工", "党员志愿者"],
            "projects": ["线路检修进社区"],
            "reported_at": NOW,
        }
    ]
    assert organisation.has_reported_in("C")


def test_an_organisation_may_report_in_to_several_communities_but_not_twice_to_one() -> None:
    organisation = organisation_in("C", "O")
    assert [r["community"] for r in organisation.report_ins] == ["C", "O"]
    with pytest.raises(AlreadyReportedInError) as refused:
        organisation.report_in("C", needs=[], resources=[], projects=[])
    assert refused.value.rule == "organisation.report_in_once"
    assert organisation.collect_events() == []


@pytest.mark.parametrize(
    "lists",
    [
        {"needs": ["场地", " "], "resources": [], "projects": []},
        {"needs": [], "resources": [""], "projects": []},
        {"needs": [], "resources": [], "projects": "线路检修"},
        {"needs": [], "resources": [], "projects": [3]},
    ],
)
def test_each_list_must_hold_non_blank_texts(lists: dict[str, Any]) -> None:
    organisation = settled(Organisation.register(name="市供电公司"))
    with pytest.raises(MemberValueError) as refused:
        organisation.report_in("C", **lists)
    assert refused.value.rule == "organisation.lists"
    assert organisation.collect_events() == []
