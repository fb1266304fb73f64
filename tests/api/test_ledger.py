"""`GET /v1/points/trial-balance` and `/v1/points/anomalies` over HTTP: answers, as of a
past moment, scope, and errors (the read policy per role: test_read_policy)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.api.conftest import Api, unique

TB = "/v1/points/trial-balance"
ANOMALIES = "/v1/points/anomalies"
STAFF = {"role": "community_staff", "sub": "staff:9"}


@pytest.fixture(scope="module")
def ledger(api: Api, tree: dict[str, str]) -> dict[str, Any]:
    rule = {"description": "志愿服务", "points": 5, "kind": "award"}
    for community in (tree["community"], tree["other_community"]):
        api.ok("PUT", f"/v1/jurisdictions/{community}/rulebook/rules/VOL", rule)
    alice, bob = api.member(tree["grid"]), api.member(tree["other_grid"])

    def award(member: str, community: str, kind: str = "deed", quantity: int = 1) -> None:
        api.ok("POST", "/v1/points/awards", {
            "member_id": member, "community": community, "rule_code": "VOL", "quantity": quantity,
            "source": {"kind": kind, "id": unique("src-")}}, **STAFF, scope=community)  # fmt: skip

    award(alice, tree["community"], quantity=4)
    award(bob, tree["other_community"])
    redemption = {"member_id": alice, "community": tree["community"], "item": "洗衣液", "points": 6}
    api.ok("POST", "/v1/points/redemptions", redemption)
    then, position = api.clock.now, api.last
    api.clock.advance(hours=1)
    award(alice, tree["community"], kind="ticket")  # names no ticket: an anomaly
    return {"alice": alice, "bob": bob, "then": then, "position": position, "award": award}


def test_the_trial_balance_lists_every_account_and_balances_to_zero(api: Api, tree, ledger) -> None:
    bh, ns, alice = tree["community"], tree["other_community"], ledger["alice"]
    tb = api.read(TB, api.last)
    assert [(a["account"], a["debits"], a["credits"], a["balance"]) for a in tb["accounts"]] == [
        (f"community:{bh}:issuance", 0, 25, -25),
        (f"member:{alice}:{bh}", 25, 6, 19),
        (f"community:{bh}:redeemed", 6, 0, 6),
        (f"community:{ns}:issuance", 0, 5, -5),
        (f"member:{ledger['bob']}:{ns}", 5, 0, 5),
    ]
    assert (tb["debits"], tb["credits"], tb["balance"]) == (36, 36, 0)
    assert tb["communities"][0] == {"community": bh, "issued": 25, "held": 19, "redeemed": 6,
                                    "expired": 0, "deducted": 0, "balanced": True}  # fmt: skip
    only = api.read(TB, api.last, params={"jurisdiction": ns})
    assert [a["balance"] for a in only["accounts"]] == [-5, 5] and only["balance"] == 0
    by_type = api.read(TB, api.last, params={"detail": "type", "jurisdiction": bh})
    assert [(a["account"], a["accounts"]) for a in by_type["accounts"]] == [
        (f"community:{bh}:issuance", 1), (f"community:{bh}:members", 1),
        (f"community:{bh}:redeemed", 1)]  # fmt: skip
    grid = api.read(TB, api.last, params={"jurisdiction": tree["grid"]})
    assert grid["accounts"] == [] and grid["balance"] == 0


def test_the_trial_balance_as_a_file_holds_the_same_lines_and_a_zero_total(
    api: Api, tree, ledger
) -> None:
    tb = api.read(TB, api.last)
    response = api.get(TB, after=api.last, params={"format": "xlsx"})
    assert response.status_code == 200, response.text
    assert (
        response.headers["content-disposition"] == 'attachment; filename="trial-balance-all.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    header, *lines = list(sheet.iter_rows(values_only=True))
    assert header[-3:] == ("Debit / 借方", "Credit / 贷方", "Balance / 余额")
    assert [line[1] for line in lines] == [a["account"] for a in tb["accounts"]] + ["TOTAL / 合计"]
    assert [line[-3:] for line in lines[:-1]] == [
        (a["debits"], a["credits"], a["balance"]) for a in tb["accounts"]
    ]
    assert lines[-1][-3:] == (tb["debits"], tb["credits"], 0)
    as_of = {"format": "csv", "as_of": ledger["then"].isoformat()}
    then = api.get(TB, after=api.last, params=as_of)
    rows = list(csv.reader(io.StringIO(then.content.decode("utf-8-sig"))))
    assert rows[-1][1] == "TOTAL / 合计" and rows[-1][-1] == "0"
    assert api.get(TB, params={"format": "ods"}).status_code == 422


def test_a_trial_balance_as_of_a_moment_is_unchanged_by_what_is_recorded_later(
    api: Api, tree, ledger
) -> None:
    params = {"as_of": ledger["then"].isoformat()}
    before = api.read(TB, api.last, params=params)
    assert before["debits"] == 31 and before["last_position"] <= ledger["position"]
    api.clock.advance(days=1)
    ledger["award"](ledger["alice"], tree["community"], quantity=2)
    after = api.read(TB, api.last, params=params)
    assert after == before
    assert api.read(TB, api.last)["debits"] == before["debits"] + 5 + 10


def test_staff_read_the_trial_balance_of_their_communities_only(api: Api, tree, ledger) -> None:
    staff = {**STAFF, "scope": tree["community"]}
    tb = api.read(TB, api.last, params={"jurisdiction": tree["district"]}, **staff)
    assert {a["community"] for a in tb["accounts"]} == {tree["community"]}
    other = api.read(TB, api.last, params={"jurisdiction": tree["other_community"]}, **staff)
    assert other["accounts"] == []
    resident = {"role": "resident", "sub": ledger["alice"], "scope": tree["grid"]}
    for path in (TB, ANOMALIES):
        refused = api.get(path, **resident)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"


def test_bad_times_are_422_and_an_unknown_jurisdiction_is_404(api: Api, tree, ledger) -> None:
    for path, params in [
        (TB, {"as_of": "yesterday"}),
        (TB, {"as_of": "2026-03-01T08:00:00"}),  # no offset: which moment?
        (TB, {"detail": "everything"}),
        (ANOMALIES, {"from": "2026-13-01T00:00:00Z"}),
        (ANOMALIES, {"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}),
        (ANOMALIES, {"burst_awards": 0}),
    ]:
        response = api.get(path, params=params)
        assert response.status_code == 422, (path, params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    for path in (TB, ANOMALIES):
        unknown = api.get(path, params={"jurisdiction": "NOWHERE"})
        assert unknown.status_code == 404 and unknown.json()["type"] == "/problems/not-found"


def test_anomalies_are_reported_for_a_period_with_counts_by_kind(api: Api, tree, ledger) -> None:
    evaluator = {"role": "evaluator", "sub": "e-1"}
    found = api.read(ANOMALIES, api.last, **evaluator)
    (invalid,) = [a for a in found["items"] if a["kind"] == "invalid_source"]
    assert invalid["community"] == tree["community"] and invalid["actor"] == "staff:9"
    assert invalid["detail"].startswith("source ticket src-") and "is no id" in invalid["detail"]
    assert found["counts"]["invalid_source"] == 1 and found["counts"]["self_award"] == 0
    assert found["counts"]["award_burst"] == 0  # the default: more than 30 in 10 minutes
    earlier = api.read(ANOMALIES, api.last, params={"to": ledger["then"].isoformat()})
    assert earlier["items"] == []
    later = {"from": (ledger["then"] + timedelta(minutes=1)).isoformat()}
    assert [a["kind"] for a in api.read(ANOMALIES, api.last, params=later)["items"]] == [
        "invalid_source"]  # fmt: skip
    bursts = api.read(ANOMALIES, api.last, params={"burst_awards": 1, "burst_minutes": 5})
    (burst,) = [a for a in bursts["items"] if a["kind"] == "award_burst"]
    assert burst["actor"] == "staff:9" and "more than 1" in burst["detail"]
