"""The jurisdictions, rosters, members and organisations query tables, fed through Governance."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor, acting
from domain.points import PointsAccount
from projections.engine.batch import Projection, physical
from projections.engine.rebuild import rebuild
from projections.views.jurisdictions import Jurisdictions, Rosters
from projections.views.members import Members, Organisations
from tests.fakes import FakeClock
from tests.readside import all_rows

STAFF = Meta(actor=Actor("staff-1", "community_staff"))
CHECKER = Meta(actor=Actor("staff-2", "community_staff"))

TABLES: dict[str, tuple[Projection, str]] = {
    "jurisdictions": (Jurisdictions(), "code"),
    "roster_paths": (Rosters(), "code"),
    "roster_members": (Rosters(), "member_id, community"),
    "roster_roles": (Rosters(), "claim_position"),
    "roster_organisations": (Rosters(), "organisation_id, community"),
    "members": (Members(), "id"),
    "member_pledges": (Members(), "pledge_id"),
    "member_points_accounts": (Members(), "account_id"),
    "organisations": (Organisations(), "id"),
}


def one(db: psycopg.Connection, query: str, *params: Any) -> dict[str, Any]:
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, params).fetchone()
    assert row is not None
    return row


def register(gov: Governance, admin: Meta, name: str, kind: str, grid: str) -> UUID:
    return gov.register_member(
        admin, name=name, phone="13800138000", kind=kind, party_member=True, home_grid=grid
    ).id


def test_the_tree_has_paths_depths_and_renames(
    governance: Governance, admin: Meta, tree: dict[str, str], clock: FakeClock, project,
    db: psycopg.Connection,
) -> None:  # fmt: skip
    defined_at = clock.now
    project(Jurisdictions())
    clock.advance(hours=1)
    with acting(admin.actor, now=clock.now):
        node = governance.jurisdiction(tree["other_community"])
        node.rename("南山新村社区")
    governance.save(node)
    project(Jurisdictions())
    grid = one(db, "SELECT * FROM jurisdictions WHERE code = %s", tree["grid"])
    assert grid == {
        "code": "HG-WH-BH-01", "id": node.id_for("HG-WH-BH-01"), "kind": "grid",
        "name": "北环一网格", "parent": "HG-WH-BH",
        "path": ["HG", "HG-WH", "HG-WH-BH", "HG-WH-BH-01"], "depth": 3,
        "defined_at": defined_at, "renamed_at": None, "version": 1,
        "last_position": governance.recorder.position_of(node.id_for("HG-WH-BH-01"), 1),
    }  # fmt: skip
    renamed = one(db, "SELECT * FROM jurisdictions WHERE code = %s", tree["other_community"])
    assert (renamed["name"], renamed["renamed_at"], renamed["version"]) == (
        "南山新村社区", clock.now, 2,
    )  # fmt: skip
    assert renamed["last_position"] == governance.recorder.max_notification_id()
    district = one(db, "SELECT * FROM jurisdictions WHERE code = 'HG'")
    assert (district["parent"], district["path"], district["depth"]) == (None, ["HG"], 0)
    children = db.execute(
        "SELECT code FROM jurisdictions WHERE parent = %s ORDER BY code", (tree["community"],)
    ).fetchall()
    assert children == [("HG-WH-BH-01",), ("HG-WH-BH-02",)]
    subtree = db.execute(
        "SELECT code FROM jurisdictions WHERE path @> ARRAY[%s] ORDER BY code", (tree["street"],)
    ).fetchall()
    assert len(subtree) == 6


def act_one(gov: Governance, admin: Meta, tree: dict[str, str], clock: FakeClock) -> dict[str, Any]:
    """Organisations and members report in and claim roles."""
    org = gov.register_organisation(admin, name="市第一医院").id
    gov.report_in_organisation(
        admin, org, community=tree["community"], needs=["场地"], resources=["义诊"],
        projects=["健康讲座"],
    )  # fmt: skip
    wang = register(gov, admin, "王芳", "resident", tree["grid"])
    li = register(gov, admin, "李强", "in_service", tree["other_grid"])
    clock.advance(minutes=5)
    gov.report_in_member(admin, wang, community=tree["community"], grid=tree["grid2"],
                         organisation_id=org)  # fmt: skip
    gov.report_in_member(admin, li, community=tree["community"])
    gov.claim_role(admin, wang, role="grid_worker", jurisdiction=tree["grid"])
    gov.claim_role(admin, wang, role="pioneer_post", jurisdiction=tree["community"], title="T1")
    gov.claim_role(admin, wang, role="pioneer_post", jurisdiction=tree["community"], title="T2")
    return {"org": org, "wang": wang, "li": li, "at": clock.now}


def act_two(
    gov: Governance, admin: Meta, tree: dict[str, str], clock: FakeClock, ids: dict[str, Any]
) -> dict[str, Any]:
    """Roles change hands; a second organisation; an activity and a pledge."""
    clock.advance(minutes=5)
    wang, li = ids["wang"], ids["li"]
    gov.claim_role(admin, li, role="building_head", jurisdiction=tree["grid"], title="3号楼")
    gov.release_role(admin, wang, role="pioneer_post", jurisdiction=tree["community"])
    clock.advance(minutes=5)
    gov.claim_role(admin, wang, role="pioneer_post", jurisdiction=tree["community"], title="T3")
    org2 = gov.register_organisation(admin, name="南山小学").id
    gov.report_in_organisation(admin, org2, community=tree["other_community"], needs=[],
                               resources=["操场"], projects=[])  # fmt: skip
    gov.report_in_organisation(admin, ids["org"], community=tree["other_community"],
                               needs=["志愿者"], resources=[], projects=["义诊"])  # fmt: skip
    gov.report_in_member(admin, li, community=tree["other_community"], grid=tree["other_grid"],
                         organisation_id=org2)  # fmt: skip
    activity = gov.schedule_activity(
        admin, title="清洁家园", jurisdiction=tree["grid"],
        starts_at=clock.now + timedelta(hours=1), ends_at=clock.now + timedelta(hours=3),
    ).id  # fmt: skip
    clock.advance(hours=1)
    gov.check_in(admin, activity, member_id=wang)
    gov.check_in(admin, activity, member_id=li)
    clock.advance(minutes=90)
    hours = gov.check_out(admin, activity, member_id=wang).extra["hours"]
    gov.close_activity(admin, activity)
    pledge = gov.make_pledge(
        admin, member_id=wang, community=tree["community"], kind="service_item",
        title="探访独居老人", target_hours=Decimal("3"), due_on=date(2026, 3, 31),
    ).id  # fmt: skip
    gov.accept_pledge(STAFF, pledge)
    gov.log_session(admin, pledge, hours=Decimal("1.25"), on=date(2026, 3, 2))
    gov.log_session(admin, pledge, hours=Decimal("2"), on=date(2026, 3, 2), note="第二次")
    gov.log_session(admin, pledge, hours=Decimal("0.5"), on=date(2026, 3, 2))
    gov.verify_session(CHECKER, pledge, 1)
    return {**ids, "org2": org2, "activity_hours": hours, "pledge": pledge}


def put_rules(gov: Governance, community: str) -> None:
    for code, points, kind, approval in (
        ("VOL", 5, "award", False), ("BIG", 10, "award", True), ("LITTER", 3, "deduction", False),
    ):  # fmt: skip
        gov.put_rule(
            STAFF, community, code, description=code, points=points, kind=kind, caps=None,
            requires_approval=approval, trigger="manual",
        )  # fmt: skip


def act_three(gov: Governance, tree: dict[str, str], clock: FakeClock, ids: dict[str, Any]) -> None:
    """The pledge session verified across batches; every kind of points entry."""
    wang, li, community = ids["wang"], ids["li"], tree["community"]
    gov.verify_session(CHECKER, ids["pledge"], 2)
    put_rules(gov, community)
    put_rules(gov, tree["other_community"])

    def award(member: UUID, code: str, source: str, where: str = community) -> Any:
        return gov.award_points(STAFF, member_id=member, community=where, rule_code=code,
                                source_kind="photo", source_id=source)  # fmt: skip

    award(wang, "VOL", "p1")
    clock.advance(days=2)
    expired = gov.expire_points(STAFF, member_id=wang, community=community, before=date(2026, 3, 3))
    assert expired.extra["points"] == 5
    gov.approve_award(CHECKER, award(wang, "BIG", "p2").extra["entry_id"])
    gov.reject_award(CHECKER, award(wang, "BIG", "p3").extra["entry_id"], reason="重复")
    award(wang, "BIG", "p4")  # stays pending
    deduction = gov.deduct_points(STAFF, member_id=wang, community=community, rule_code="LITTER",
                                  source_kind="photo", source_id="p5", note="乱扔垃圾")  # fmt: skip
    gov.redeem_points(STAFF, member_id=wang, community=community, item="毛巾", points=2)
    gov.reverse_entry(CHECKER, deduction.extra["entry_id"], reason="误判")
    award(li, "VOL", "p6", tree["other_community"])
    award(li, "VOL", "p7")


def test_members_organisations_and_rosters_follow_every_event(
    governance: Governance, admin: Meta, tree: dict[str, str], clock: FakeClock, project,
    db: psycopg.Connection, database_url: str,
) -> None:  # fmt: skip
    projections = list({p.name: p for p, _ in TABLES.values()}.values())
    project(*projections)
    ids = act_one(governance, admin, tree, clock)
    project(*projections)
    ids = act_two(governance, admin, tree, clock, ids)
    project(*projections)
    act_three(governance, tree, clock, ids)
    project(*projections)

    check_members(governance, db, tree, ids)
    check_organisations(governance, db, tree, ids)
    check_rosters(governance, db, tree, ids)

    for batch_size in (1, 1000):
        generations = {
            name: rebuild(
                database_url, governance.mapper, projection, batch_size=batch_size, activate=False
            )
            for name, projection in ((p.name, p) for p in projections)
        }
        for table, (projection, order) in TABLES.items():
            again = physical(table, generations[projection.name])
            assert all_rows(db, again, order) == all_rows(db, table, order), table


def check_members(
    gov: Governance, db: psycopg.Connection, tree: dict[str, str], ids: dict[str, Any]
) -> None:
    wang = one(db, "SELECT * FROM members WHERE id = %s", ids["wang"])
    member = gov.member(ids["wang"])
    balance = gov.points_account(ids["wang"], tree["community"]).balance
    assert balance == 5 - 5 + 10 - 3 - 2 + 3
    assert wang == {
        "id": ids["wang"], "name": "王芳", "phone": "13800138000", "kind": "resident",
        "party_member": True, "home_grid": tree["grid"], "home_community": tree["community"],
        "report_ins": [
            {"community": tree["community"], "grid": tree["grid2"],
             "organisation_id": str(ids["org"]), "reported_at": ids["at"].isoformat()},
        ],
        "roles": [
            {"role": "grid_worker", "jurisdiction": tree["grid"], "community": tree["community"],
             "title": None, "claimed_at": ids["at"].isoformat()},
            {"role": "pioneer_post", "jurisdiction": tree["community"],
             "community": tree["community"], "title": "T3",
             "claimed_at": member.roles[1]["claimed_at"].isoformat()},
        ],
        "activity_hours": ids["activity_hours"], "pledge_hours": Decimal("3.25"),
        "volunteer_hours": ids["activity_hours"] + Decimal("3.25"),
        "points_balance": balance, "registered_at": wang["registered_at"],
        "version": member.version, "last_position": wang["last_position"],
        "last_active_at": wang["last_active_at"], "erased_at": None,
    }  # fmt: skip
    assert ids["activity_hours"] == Decimal("1.50")
    assert wang["registered_at"] == member.created_on
    assert [r["title"] for r in member.roles] == [None, "T3"]
    li = one(db, "SELECT * FROM members WHERE id = %s", ids["li"])
    assert (li["activity_hours"], li["pledge_hours"], li["volunteer_hours"]) == (0, 0, 0)
    assert li["points_balance"] == 10
    assert [r["community"] for r in li["report_ins"]] == [
        tree["community"],
        tree["other_community"],
    ]
    assert li["roles"][0]["title"] == "3号楼"
    account = PointsAccount.id_for(ids["li"], tree["community"])
    last = db.execute(
        "SELECT max(notification_id) FROM governance_events WHERE originator_id = %s", (account,)
    ).fetchone()
    assert last == (li["last_position"],)
    accounts = db.execute(
        "SELECT account_id, member_id FROM member_points_accounts ORDER BY account_id"
    ).fetchall()
    assert sorted(accounts) == sorted(
        (PointsAccount.id_for(m, c), m)
        for m, c in ((ids["wang"], tree["community"]), (ids["li"], tree["community"]),
                     (ids["li"], tree["other_community"]))
    )  # fmt: skip
    link = one(db, "SELECT * FROM member_pledges WHERE pledge_id = %s", ids["pledge"])
    assert (link["member_id"], link["unverified"]) == (ids["wang"], {"3": "0.50"})


def check_organisations(
    gov: Governance, db: psycopg.Connection, tree: dict[str, str], ids: dict[str, Any]
) -> None:
    org = one(db, "SELECT * FROM organisations WHERE id = %s", ids["org"])
    reported = gov.organisation(ids["org"]).report_ins
    assert org == {
        "id": ids["org"], "name": "市第一医院", "registered_at": org["registered_at"],
        "report_ins": [
            {"community": tree["community"], "needs": ["场地"], "resources": ["义诊"],
             "projects": ["健康讲座"], "reported_at": reported[0]["reported_at"].isoformat()},
            {"community": tree["other_community"], "needs": ["志愿者"], "resources": [],
             "projects": ["义诊"], "reported_at": reported[1]["reported_at"].isoformat()},
        ],
        "version": 3, "last_position": gov.recorder.position_of(ids["org"], 3),
    }  # fmt: skip
    assert org["registered_at"] == gov.organisation(ids["org"]).created_on


def check_rosters(
    gov: Governance, db: psycopg.Connection, tree: dict[str, str], ids: dict[str, Any]
) -> None:
    in_grid2 = db.execute(
        "SELECT member_id, community, grid, organisation_id, reported_at, path"
        " FROM roster_members WHERE path @> ARRAY[%s]", (tree["grid2"],),
    ).fetchall()  # fmt: skip
    assert in_grid2 == [(
        ids["wang"], tree["community"], tree["grid2"], ids["org"], ids["at"],
        ["HG", "HG-WH", "HG-WH-BH", "HG-WH-BH-02"],
    )]  # fmt: skip
    in_community = db.execute(
        "SELECT member_id, grid, path FROM roster_members WHERE path @> ARRAY[%s]"
        " ORDER BY position", (tree["community"],),
    ).fetchall()  # fmt: skip
    assert [r[0] for r in in_community] == [ids["wang"], ids["li"]]
    assert in_community[1][1:] == (None, ["HG", "HG-WH", "HG-WH-BH"])
    in_street = db.execute(
        "SELECT count(*) FROM roster_members WHERE path @> ARRAY[%s]", (tree["street"],)
    ).fetchone()
    assert in_street == (3,)
    roles = db.execute(
        "SELECT member_id, role, jurisdiction, title, community, released_at IS NULL, path"
        " FROM roster_roles ORDER BY claim_position"
    ).fetchall()
    grid_path = ["HG", "HG-WH", "HG-WH-BH", "HG-WH-BH-01"]
    community, wang, li = tree["community"], ids["wang"], ids["li"]
    assert roles == [
        (wang, "grid_worker", tree["grid"], None, community, True, grid_path),
        (wang, "pioneer_post", community, "T1", community, False, grid_path[:3]),
        (wang, "pioneer_post", community, "T2", community, False, grid_path[:3]),
        (li, "building_head", tree["grid"], "3号楼", community, True, grid_path),
        (wang, "pioneer_post", community, "T3", community, True, grid_path[:3]),
    ]
    times = db.execute(
        "SELECT claimed_at, released_at FROM roster_roles ORDER BY claim_position"
    ).fetchall()
    at, later = ids["at"], ids["at"] + timedelta(minutes=5)
    assert times[:4] == [(at, None), (at, later), (at, later), (later, None)]
    assert times[4] == (later + timedelta(minutes=5), None)
    orgs = db.execute(
        "SELECT organisation_id, community, needs, resources, projects, path"
        " FROM roster_organisations WHERE path @> ARRAY[%s] ORDER BY position",
        (tree["other_community"],),
    ).fetchall()
    assert orgs == [
        (ids["org2"], tree["other_community"], [], ["操场"], [], ["HG", "HG-WH", "HG-WH-NS"]),
        (
            ids["org"],
            tree["other_community"],
            ["志愿者"],
            [],
            ["义诊"],
            ["HG", "HG-WH", "HG-WH-NS"],
        ),
    ]
    reported_at = gov.organisation(ids["org2"]).report_ins[0]["reported_at"]
    assert db.execute(
        "SELECT reported_at FROM roster_organisations WHERE organisation_id = %s", (ids["org2"],)
    ).fetchall() == [(reported_at,)]
    paths = db.execute("SELECT code, path FROM roster_paths ORDER BY code").fetchall()
    assert len(paths) == 7
    assert paths[0] == ("HG", ["HG"])
    assert paths[-1] == ("HG-WH-NS-01", ["HG", "HG-WH", "HG-WH-NS", "HG-WH-NS-01"])
