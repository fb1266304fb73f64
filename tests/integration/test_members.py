from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from uuid import UUID, uuid4

import pytest

from domain.application import Governance
from domain.commands.base import Meta
from domain.errors import (
    AlreadyReportedInError,
    DomainError,
    GridOutsideCommunityError,
    InvalidPhoneError,
    MemberValueError,
    NotFoundError,
    NotReportedInError,
    OrganisationNotReportedInError,
    RoleAlreadyHeldError,
    RoleJurisdictionKindError,
    RoleNotHeldError,
    WrongJurisdictionKindError,
)
from domain.member import Member
from domain.organisation import Organisation
from tests.writeside import max_position


def register(gov: Governance, meta: Meta, home_grid: str | None, **overrides: object) -> UUID:
    fields: dict[str, object] = {
        "name": "王芳",
        "phone": "13800138000",
        "kind": "in_service",
        "party_member": True,
        "home_grid": home_grid,
    }
    fields.update(overrides)
    return gov.register_member(meta, **fields).id


def organisation_in(gov: Governance, meta: Meta, community: str) -> UUID:
    organisation_id = gov.register_organisation(meta, name="市供电公司").id
    gov.report_in_organisation(
        meta,
        organisation_id,
        community=community,
        needs=["活动场地"],
        resources=["电工志愿者"],
        projects=["线路检修进社区"],
    )
    return organisation_id


def test_a_registered_member_reloads_as_registered(
    governance: Governance, admin: Meta, tree: dict[str, str], clock
) -> None:
    result = governance.register_member(
        admin,
        name="王芳",
        phone="+8613800138000",
        kind="retired",
        party_member=False,
        home_grid=tree["grid"],
    )
    assert (result.version, result.position) == (1, max_position(governance))
    member = governance.member(result.id)
    assert governance.personal is not None
    name = governance.personal.reveal(member.name, member.id, "name")
    phone = governance.personal.reveal(member.phone, member.id, "phone")
    assert (name, phone, member.kind, member.party_member) == (
        "王芳",
        "+8613800138000",
        "retired",
        False,
    )
    assert (member.home_grid, member.home_community) == (tree["grid"], tree["community"])
    (registered,) = governance.events.get(result.id)
    assert (registered.actor_id, registered.actor_role, registered.timestamp) == (
        "admin-1",
        "admin",
        clock.now,
    )


def test_a_member_without_a_home_grid_may_register(governance: Governance, admin: Meta) -> None:
    member = governance.member(register(governance, admin, None))
    assert member.home_grid is None


@pytest.mark.parametrize(
    ("home_grid", "overrides", "error"),
    [
        ("community", {}, WrongJurisdictionKindError),
        ("nowhere", {}, NotFoundError),
        ("grid", {"phone": "138-0013-8000"}, InvalidPhoneError),
        ("grid", {"kind": "tourist"}, MemberValueError),
        ("grid", {"name": " "}, MemberValueError),
    ],
)
def test_a_refused_registration_records_nothing(
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    home_grid: str,
    overrides: dict[str, object],
    error: type[DomainError],
) -> None:
    before = max_position(governance)
    with pytest.raises(error):
        register(governance, admin, tree.get(home_grid, home_grid), **overrides)
    assert max_position(governance) == before


def test_a_member_reports_in_where_they_live_and_where_their_organisation_is(
    governance: Governance, admin: Meta, tree: dict[str, str], clock
) -> None:
    organisation_id = organisation_in(governance, admin, tree["other_community"])
    member_id = register(governance, admin, tree["grid"])
    first_at = clock.now
    governance.report_in_member(admin, member_id, community=tree["community"], grid=tree["grid"])
    second_at = clock.advance(hours=2)
    result = governance.report_in_member(
        admin,
        str(member_id),
        community=tree["other_community"],
        organisation_id=str(organisation_id),
    )
    assert result.version == 3
    assert governance.member(member_id).report_ins == [
        {
            "community": tree["community"],
            "grid": tree["grid"],
            "organisation_id": None,
            "reported_at": first_at,
        },
        {
            "community": tree["other_community"],
            "grid": None,
            "organisation_id": organisation_id,
            "reported_at": second_at,
        },
    ]


def test_an_organisation_reloads_with_its_lists(
    governance: Governance, admin: Meta, tree: dict[str, str], clock
) -> None:
    organisation_id = organisation_in(governance, admin, tree["community"])
    organisation = governance.organisation(organisation_id)
    assert organisation.name == "市供电公司"
    assert organisation.report_ins == [
        {
            "community": tree["community"],
            "needs": ["活动场地"],
            "resources": ["电工志愿者"],
            "projects": ["线路检修进社区"],
            "reported_at": clock.now,
        }
    ]
    assert [type(e) for e in governance.events.get(organisation_id)] == [
        Organisation.Registered,
        Organisation.ReportedIn,
    ]


@pytest.mark.parametrize(
    ("community", "grid", "organisation", "error"),
    [
        ("community", None, None, AlreadyReportedInError),
        ("grid", None, None, WrongJurisdictionKindError),
        ("nowhere", None, None, NotFoundError),
        ("other_community", "grid", None, GridOutsideCommunityError),
        ("other_community", "other_community", None, WrongJurisdictionKindError),
        ("other_community", None, "elsewhere", OrganisationNotReportedInError),
        ("other_community", None, "unknown", NotFoundError),
    ],
)
def test_a_refused_report_in_records_nothing(
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    community: str,
    grid: str | None,
    organisation: str | None,
    error: type[DomainError],
) -> None:
    organisations = {
        "elsewhere": organisation_in(governance, admin, tree["community"]),
        "unknown": uuid4(),
        None: None,
    }
    member_id = register(governance, admin, tree["grid"])
    governance.report_in_member(admin, member_id, community=tree["community"])
    before = max_position(governance)
    with pytest.raises(error):
        governance.report_in_member(
            admin,
            member_id,
            community=tree.get(community, community),
            grid=tree[grid] if grid else None,
            organisation_id=organisations[organisation],
        )
    assert max_position(governance) == before


def test_an_unknown_member_cannot_report_in(
    governance: Governance, admin: Meta, tree: dict[str, str]
) -> None:
    with pytest.raises(NotFoundError) as refused:
        governance.report_in_member(admin, uuid4(), community=tree["community"])
    assert refused.value.kind == "Member"
    with pytest.raises(NotFoundError):
        governance.report_in_member(admin, "not-a-uuid", community=tree["community"])


@pytest.mark.parametrize(
    ("organisation_id", "community", "lists", "error"),
    [
        ("known", "community", {}, AlreadyReportedInError),
        ("known", "grid", {}, WrongJurisdictionKindError),
        ("known", "other_community", {"needs": [" "]}, MemberValueError),
        ("unknown", "other_community", {}, NotFoundError),
    ],
)
def test_a_refused_organisation_report_in_records_nothing(
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    organisation_id: str,
    community: str,
    lists: dict[str, list[str]],
    error: type[DomainError],
) -> None:
    known = organisation_in(governance, admin, tree["community"])
    before = max_position(governance)
    with pytest.raises(error):
        governance.report_in_organisation(
            admin,
            known if organisation_id == "known" else uuid4(),
            community=tree[community],
            **{"needs": [], "resources": [], "projects": [], **lists},
        )
    assert max_position(governance) == before


def test_roles_are_claimed_and_released_and_every_version_can_be_read_back(
    governance: Governance, admin: Meta, tree: dict[str, str], clock
) -> None:
    member_id = register(governance, admin, tree["grid"])
    governance.report_in_member(admin, member_id, community=tree["other_community"])
    claimed_at = clock.advance(minutes=5)
    governance.claim_role(admin, member_id, role="grid_worker", jurisdiction=tree["grid"])
    governance.claim_role(
        admin, member_id, role="pioneer_post", jurisdiction=tree["other_community"], title="调解岗"
    )
    clock.advance(minutes=5)
    released = governance.release_role(
        admin, member_id, role="grid_worker", jurisdiction=tree["grid"]
    )
    assert released.version == 5
    assert governance.member(member_id).roles == [
        {
            "role": "pioneer_post",
            "jurisdiction": tree["other_community"],
            "community": tree["other_community"],
            "title": "调解岗",
            "claimed_at": claimed_at,
        }
    ]
    then = governance.repository.get(member_id, version=3)
    assert [r["role"] for r in then.roles] == ["grid_worker"]
    assert then.roles[0]["claimed_at"] == claimed_at
    assert governance.repository.get(member_id, version=1).roles == []
    assert [type(e) for e in governance.events.get(member_id)] == [
        Member.Registered,
        Member.ReportedIn,
        Member.RoleClaimed,
        Member.RoleClaimed,
        Member.RoleReleased,
    ]


def claim(role: str, place: str, title: str | None = None) -> Callable[..., object]:
    def command(gov: Governance, meta: Meta, member_id: UUID, tree: dict[str, str]) -> object:
        return gov.claim_role(
            meta, member_id, role=role, jurisdiction=tree.get(place, place), title=title
        )

    return command


def release(role: str, place: str) -> Callable[..., object]:
    def command(gov: Governance, meta: Meta, member_id: UUID, tree: dict[str, str]) -> object:
        return gov.release_role(meta, member_id, role=role, jurisdiction=tree.get(place, place))

    return command


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (claim("grid_worker", "grid"), RoleAlreadyHeldError),
        (claim("grid_worker", "community"), RoleJurisdictionKindError),
        (claim("pioneer_post", "street"), RoleJurisdictionKindError),
        (claim("grid_worker", "other_grid"), NotReportedInError),
        (claim("grid_worker", "nowhere"), NotFoundError),
        (claim("mayor", "grid"), MemberValueError),
        (claim("pioneer_post", "grid", " "), MemberValueError),
        (release("grid_worker", "grid2"), RoleNotHeldError),
        (release("unit_head", "grid"), RoleNotHeldError),
    ],
)
def test_a_refused_role_command_records_nothing(
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    command: Callable[..., object],
    error: type[DomainError],
) -> None:
    member_id = register(governance, admin, tree["grid"])
    governance.claim_role(admin, member_id, role="grid_worker", jurisdiction=tree["grid"])
    before = max_position(governance)
    with pytest.raises(error):
        command(governance, admin, member_id, tree)
    assert max_position(governance) == before


def test_a_repeated_registration_with_one_key_registers_one_member(
    governance: Governance, admin: Meta, tree: dict[str, str]
) -> None:
    keyed = replace(admin, idempotency_key="register-wang-fang")
    first = register(governance, keyed, tree["grid"])
    before = max_position(governance)
    assert register(governance, keyed, tree["grid"]) == first
    assert max_position(governance) == before


def test_an_id_that_names_no_organisation_is_not_found(governance: Governance, admin: Meta) -> None:
    member_id = register(governance, admin, None)
    for unknown in (uuid4(), member_id):
        with pytest.raises(NotFoundError) as refused:
            governance.organisation(unknown)
        assert refused.value.kind == "Organisation"
