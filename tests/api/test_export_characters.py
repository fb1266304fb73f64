"""A member name or redemption item holding a control character exports: the workbook
marks it U+FFFD (openpyxl refuses such characters), the CSV keeps it as sent."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.api.conftest import Api, unique


def test_control_characters_in_names_and_items_do_not_break_the_exports(
    api: Api, tree: dict[str, str]
) -> None:
    community = tree["community"]
    code = unique("deed")
    api.ok(
        "PUT",
        f"/v1/jurisdictions/{community}/rulebook/rules/{code}",
        {"description": "好人好事", "points": 9, "kind": "award"},
    )
    member = api.member(tree["grid"], name="张\x01三")
    award = {
        "member_id": member,
        "community": community,
        "rule_code": code,
        "source": {"kind": "inspection", "id": unique("c-")},
    }
    api.ok("POST", "/v1/points/awards", award)
    spend = {"member_id": member, "community": community, "item": "洗\x1f衣液", "points": 2}
    at = api.ok("POST", "/v1/points/redemptions", spend)["position"]
    params = {"format": "xlsx", "jurisdiction": community}
    board = api.get("/v1/points/leaderboard", after=at, params=params)
    assert board.status_code == 200, board.text
    cells = {
        c for row in load_workbook(io.BytesIO(board.content)).worksheets[0].values for c in row
    }
    assert "张\ufffd三" in cells
    ledger = api.get(f"/v1/points/accounts/{member}/ledger", after=at, params={"format": "xlsx"})
    assert ledger.status_code == 200, ledger.text
    cells = {
        c for row in load_workbook(io.BytesIO(ledger.content)).worksheets[0].values for c in row
    }
    assert "洗\ufffd衣液" in cells
    as_csv = api.get(f"/v1/points/accounts/{member}/ledger", after=at, params={"format": "csv"})
    text = as_csv.content.decode("utf-8-sig")
    assert any("洗\x1f衣液" in row for row in csv.reader(io.StringIO(text)))
