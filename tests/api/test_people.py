"""Jurisdictions, members and organisations through HTTP."""

from __future__ import annotations

from tests.api.conftest import Api


def test_a_jurisdiction_reads_back_with_its_path_and_children(api: Api, tree) -> None:
    created = api.post(
        "/v1/jurisdictions",
        {"code": "HG-WH-BH-03", "kind": "grid", "name": "北环三网格", "parent": tree["community"]},
    )
    assert created.status_code == 201
    assert created.headers["location"] == "/v1/jurisdictions/HG-WH-BH-03"
    answer = created.json()
    assert set(answer) == {"id", "version", "position"}
    node = api.read("/v1/jurisdictions/HG-WH-BH-03", answer["position"])
    assert node["path"] == ["HG", "HG-WH", "HG-WH-BH", "HG-WH-BH-03"]
    assert node["parent"] == tree["community"]
    children = api.read(f"/v1/jurisdictions/{tree['community']}/children", answer["position"])
    assert [c["code"] for c in children["items"]] == [tree["grid"], tree["grid2"], "HG-WH-BH-03"]
    assert api.get("/v1/jurisdictions/NOPE").status_code == 404
    assert api.get("/v1/jurisdictions/NOPE/children").status_code == 404


def test_a_grid_under_a_street_is_refused_with_the_rule(api: Api, tree) -> None:
    body = {"code": "HG-X-1", "kind": "grid", "name": "x", "parent": tree["street"]}
    response = api.post("/v1/jurisdictions", body)
    assert response.status_code == 409
    assert response.json()["rule"] == "jurisdiction.kind_under_parent"


def test_a_member_registers_reports_in_claims_and_releases_a_role(api: Api, tree) -> None:
    member_id = api.member(tree["grid"], party_member=True, kind="in_service")
    api.ok(
        "POST",
        f"/v1/members/{member_id}/report-ins",
        {"community": tree["community"], "grid": tree["grid"]},
    )
    claim = {"role": "building_head", "jurisdiction": tree["grid"], "title": "3号楼"}
    claimed = api.ok("POST", f"/v1/members/{member_id}/role-claims", claim)
    member = api.read(f"/v1/members/{member_id}", claimed["position"])
    assert member["party_member"] is True
    assert [r["community"] for r in member["report_ins"]] == [tree["community"]]
    assert [(r["role"], r["title"]) for r in member["roles"]] == [("building_head", "3号楼")]
    holders = api.read("/v1/members", claimed["position"], params={"role": "building_head"})
    assert member_id in [m["id"] for m in holders["items"]]
    released = api.ok(
        "POST",
        f"/v1/members/{member_id}/role-releases",
        {"role": "building_head", "jurisdiction": tree["grid"]},
    )
    assert api.read(f"/v1/members/{member_id}", released["position"])["roles"] == []
    again = api.post(
        f"/v1/members/{member_id}/role-releases",
        {"role": "building_head", "jurisdiction": tree["grid"]},
    )
    assert again.status_code == 409
    assert again.json()["rule"] == "role.held"


def test_reporting_in_twice_to_one_community_is_a_409(api: Api, tree) -> None:
    member_id = api.member(tree["grid"])
    api.ok("POST", f"/v1/members/{member_id}/report-ins", {"community": tree["community"]})
    response = api.post(f"/v1/members/{member_id}/report-ins", {"community": tree["community"]})
    assert response.status_code == 409
    assert response.json()["rule"] == "member.report_in_once"


def test_an_unknown_member_is_a_404_for_a_command_too(api: Api, tree) -> None:
    response = api.post(
        "/v1/members/00000000-0000-0000-0000-000000000001/report-ins",
        {"community": tree["community"]},
    )
    assert response.status_code == 404


def test_an_organisation_reports_in_and_appears_on_the_roster(api: Api, tree) -> None:
    created = api.post("/v1/organisations", {"name": "海港区税务局"})
    assert created.status_code == 201
    organisation_id = created.json()["id"]
    assert created.headers["location"] == f"/v1/organisations/{organisation_id}"
    lists = {
        "community": tree["other_community"],
        "needs": ["助老"],
        "resources": ["场地"],
        "projects": [],
    }
    done = api.ok("POST", f"/v1/organisations/{organisation_id}/report-ins", lists)
    organisation = api.read(f"/v1/organisations/{organisation_id}", done["position"])
    assert organisation["report_ins"][0]["needs"] == ["助老"]
    member_id = api.member(tree["other_grid"])
    joined = api.ok(
        "POST",
        f"/v1/members/{member_id}/report-ins",
        {"community": tree["other_community"], "organisation_id": organisation_id},
    )
    roster = api.read(f"/v1/jurisdictions/{tree['other_community']}/roster", joined["position"])
    assert [(e["kind"], e["id"]) for e in roster["items"]] == [
        ("organisation", organisation_id),
        ("member", member_id),
    ]
    members_only = api.read(
        f"/v1/jurisdictions/{tree['street']}/roster", joined["position"], params={"kind": "member"}
    )
    assert member_id in [e["id"] for e in members_only["items"]]
    assert api.get("/v1/organisations/00000000-0000-0000-0000-000000000000").status_code == 404
