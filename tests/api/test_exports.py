"""`?format=csv|xlsx` on the ledger and the leaderboard: the files open with the csv
module and openpyxl, hold every row of the JSON answer (all its pages) in order, keep
the read policy, and a format nobody knows is a 422."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
from openpyxl import load_workbook

from api.http.exports import ABOUT_SHEET
from domain.calendar import LOCAL_TZ
from tests.api.conftest import Api

STAFF = {"role": "community_staff", "sub": "staff:x", "scope": "HG-WH-BH"}
OTHER_STAFF = {"role": "community_staff", "sub": "staff:y", "scope": "HG-WH-NS"}
LEDGER_KEYS = ("position", "recorded_at", "community", "entry_id", "kind", "status", "points",
               "delta", "balance_after", "rule_code", "rule_version", "source_kind", "source_id",
               "awarded_by", "approved_by", "note", "item", "reason")  # fmt: skip


@pytest.fixture(scope="module")
def points(api: Api, tree: dict[str, str]) -> dict[str, Any]:
    """Two members of one community with awards, a deduction and a redemption; one
    member's name looks like a spreadsheet formula."""
    community = tree["community"]
    for code, points, kind in (("sweep", 7, "award"), ("litter", 3, "deduction")):
        body = {"description": code, "points": points, "kind": kind}
        api.ok("PUT", f"/v1/jurisdictions/{community}/rulebook/rules/{code}", body)
    rich = api.member(tree["grid"], name="王小明")
    formula = api.member(tree["grid"], name="=SUM(1,2)")
    for n in range(7):
        body = {"member_id": rich, "community": community, "rule_code": "sweep",
                "source": {"kind": "inspection", "id": f"s-{n}"}, "note": f"第{n}次"}  # fmt: skip
        api.ok("POST", "/v1/points/awards", body, **STAFF)
    body = {"member_id": formula, "community": community, "rule_code": "sweep",
            "source": {"kind": "inspection", "id": "f-1"}}  # fmt: skip
    api.ok("POST", "/v1/points/awards", body, **STAFF)
    body = {"member_id": rich, "community": community, "rule_code": "litter",
            "source": {"kind": "patrol", "id": "p-1"}, "note": "-乱扔垃圾"}  # fmt: skip
    api.ok("POST", "/v1/points/deductions", body, **STAFF)
    spend = {"member_id": rich, "community": community, "item": "洗衣液", "points": 10}
    api.ok("POST", "/v1/points/redemptions", spend, **STAFF)
    return {"rich": rich, "formula": formula, "community": community, "after": api.last}


def pages(api: Api, path: str, after: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a JSON list, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.read(path, after, params=query)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def download(api: Api, path: str, after: int, fmt: str, **params: Any) -> Any:
    response = api.get(path, after=after, params={**params, "format": fmt})
    assert response.status_code == 200, response.text
    assert response.headers["x-projection-position"].isdigit()
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["content-disposition"].endswith(f'.{fmt}"')
    return response


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def json_cell(key: str, entry: dict[str, Any]) -> Any:
    if key in ("source_kind", "source_id"):
        return entry["source"][key.removeprefix("source_")]
    return entry[key]


def as_csv(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "recorded_at":
        return datetime.fromisoformat(value).astimezone(LOCAL_TZ).isoformat()
    return str(value)


def test_the_ledger_as_csv_holds_every_entry_of_the_json_pages_in_order(api: Api, points) -> None:
    path = f"/v1/points/accounts/{points['rich']}/ledger"
    entries = pages(api, path, points["after"])
    assert len(entries) == 9  # more than one page of 3
    response = download(api, path, points["after"], "csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert f"points-ledger-{points['rich']}.csv" in response.headers["content-disposition"]
    header, *body = csv_rows(response.content)
    assert header[8] == "Balance after / 变动后余额"
    assert all(" / " in h for h in header)
    assert len(body) == len(entries)
    for line, entry in zip(body, entries, strict=True):
        expected = [as_csv(k, json_cell(k, entry)) for k in LEDGER_KEYS]
        expected[LEDGER_KEYS.index("note")] = expected[LEDGER_KEYS.index("note")].replace(
            "-乱扔垃圾", "'-乱扔垃圾"
        )
        assert line == expected
    assert body[-1][LEDGER_KEYS.index("balance_after")] == str(7 * 7 - 3 - 10)


def test_the_ledger_as_xlsx_has_typed_cells_a_frozen_bold_header_and_an_about_sheet(
    api: Api, points
) -> None:
    path = f"/v1/points/accounts/{points['rich']}/ledger"
    entries = pages(api, path, points["after"])
    response = download(api, path, points["after"], "xlsx")
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Points ledger 积分台账", ABOUT_SHEET]
    sheet = book.worksheets[0]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    header, *body = list(sheet.iter_rows(values_only=True))
    assert header[LEDGER_KEYS.index("delta")] == "Change / 变动"
    assert len(body) == len(entries)
    for line, entry in zip(body, entries, strict=True):
        for key, value in zip(LEDGER_KEYS, line, strict=True):
            wanted = json_cell(key, entry)
            if key == "recorded_at":
                local = datetime.fromisoformat(wanted).astimezone(LOCAL_TZ)
                assert value == local.replace(tzinfo=None, microsecond=value.microsecond)
                assert abs(value.microsecond - local.microsecond) < 1000  # Excel keeps ms
            else:
                assert value == wanted, key
    time_cell = sheet.cell(row=2, column=LEDGER_KEYS.index("recorded_at") + 1)
    assert time_cell.is_date and time_cell.number_format == "yyyy-mm-dd hh:mm:ss"
    about = dict(book[ABOUT_SHEET].iter_rows(values_only=True))
    query_path, query = about["Query / 查询"].split("?")
    assert query_path == path
    assert parse_qs(query) == {"format": ["xlsx"], "min_position": [str(points["after"])]}
    assert about["Rows / 行数"] == str(len(entries))
    assert about["Projection position / 投影位置"] == response.headers["x-projection-position"]
    assert about["As of / 截至"] == "now"
    assert "Generated at / 生成时间" in about


def test_the_leaderboard_files_match_the_json_board_and_never_run_a_formula(
    api: Api, points
) -> None:
    params = {"jurisdiction": points["community"]}
    board = pages(api, "/v1/points/leaderboard", points["after"], **params)
    assert [r["member_id"] for r in board[:2]] == [points["rich"], points["formula"]]
    header, *body = csv_rows(
        download(api, "/v1/points/leaderboard", points["after"], "csv", **params).content
    )
    assert header == ["Rank / 名次", "Member / 成员编号", "Name / 姓名", "Points / 积分"]
    guarded = {"=SUM(1,2)": "'=SUM(1,2)"}
    assert [tuple(line) for line in body] == [
        (str(rank), r["member_id"], guarded.get(r["name"], r["name"]), str(r["points"]))
        for rank, r in enumerate(board, start=1)
    ]
    response = download(api, "/v1/points/leaderboard", points["after"], "xlsx", **params)
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert rows == [
        (rank, r["member_id"], r["name"], r["points"]) for rank, r in enumerate(board, start=1)
    ]
    formula = next(c for c in sheet["C"] if c.value == "=SUM(1,2)")
    assert formula.data_type == "s"  # text, not a formula


def test_a_period_board_file_names_its_period(api: Api, points) -> None:
    since = "2020-01-01T00:00:00+00:00"
    params = {"jurisdiction": points["community"], "from": since}
    board = pages(api, "/v1/points/leaderboard", points["after"], **params)
    response = download(api, "/v1/points/leaderboard", points["after"], "xlsx", **params)
    assert "points-leaderboard-HG-WH-BH-2020-01-01.xlsx" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    rows = list(book.worksheets[0].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[3]) for r in rows] == [(b["member_id"], b["points"]) for b in board]
    about = dict(book[ABOUT_SHEET].iter_rows(values_only=True))
    assert about["Period / 期间"].startswith("[2020-01-01T00:00:00+00:00")


def test_the_files_keep_the_read_policy(api: Api, points) -> None:
    ledger = f"/v1/points/accounts/{points['rich']}/ledger"
    himself = {"role": "resident", "sub": points["rich"], "scope": points["community"]}
    other = {"role": "resident", "sub": points["formula"], "scope": points["community"]}
    for fmt in ("csv", "xlsx"):
        mine = api.get(ledger, after=points["after"], params={"format": fmt}, **himself)
        assert mine.status_code == 200
        refused = api.get(ledger, after=points["after"], params={"format": fmt}, **other)
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/problem+json"
        elsewhere = api.get(ledger, after=points["after"], params={"format": fmt}, **OTHER_STAFF)
        assert elsewhere.status_code == 404
    board = api.get(
        "/v1/points/leaderboard", after=points["after"], params={"format": "csv"}, **other
    )
    assert [line[1] for line in csv_rows(board.content)[1:]] == [points["formula"]]
    empty = api.get(
        "/v1/points/leaderboard", after=points["after"], params={"format": "csv"}, **OTHER_STAFF
    )
    assert len(csv_rows(empty.content)) == 1  # the header only


@pytest.mark.parametrize("fmt", ["pdf", "CSV", ""])
def test_a_format_nobody_knows_is_a_422_problem(api: Api, points, fmt: str) -> None:
    for path in (f"/v1/points/accounts/{points['rich']}/ledger", "/v1/points/leaderboard"):
        response = api.get(path, params={"format": fmt})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["loc"] == ["query", "format"]


def test_format_json_is_the_json_page(api: Api, points) -> None:
    path = f"/v1/points/accounts/{points['rich']}/ledger"
    plain = api.read(path, points["after"])
    assert api.read(path, points["after"], params={"format": "json"}) == plain
