"""api.http.exports: every kind of column as CSV and as XLSX, empty cells and the About sheet."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

from openpyxl import load_workbook

from api.http.exports import (
    ABOUT_SHEET,
    Column,
    Export,
    Kind,
    file_name,
    write_csv,
    write_xlsx,
)

COLUMNS = (
    Column("name", "Name", "名称"),
    Column("count", "Tickets", "工单", Kind.INT),
    Column("hours", "Hours", "时长", Kind.DECIMAL),
    Column("rate", "Response in time", "响应及时率", Kind.RATE),
    Column("day", "Day", "日期", Kind.DATE),
    Column("at", "Recorded at", "记录时间", Kind.DATETIME),
)
ROWS = [
    {"name": "北环社区", "count": 1234, "hours": Decimal("12.50"), "rate": 0.875,
     "day": date(2026, 3, 1), "at": datetime(2026, 3, 1, 0, 30, tzinfo=UTC)},
    {"name": "@cmd", "count": 0, "hours": None, "rate": None, "day": None, "at": None},
]  # fmt: skip
EXPORT = Export(
    name=file_name("scorecard", "HG-WH", date(2026, 3, 1)),
    title="Scorecard: HG/WH",
    columns=COLUMNS,
    query="/v1/x?format=xlsx",
    position="42",
    period="[2026-03-01, 2026-04-01)",
    as_of="2026-04-02T00:00:00+08:00",
)


def test_csv_writes_each_kind_plainly_with_a_bom() -> None:
    out = io.BytesIO()
    assert write_csv(out, COLUMNS, iter(ROWS)) == 2
    raw = out.getvalue()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert lines == [
        ["Name / 名称", "Tickets / 工单", "Hours / 时长", "Response in time / 响应及时率",
         "Day / 日期", "Recorded at / 记录时间"],
        ["北环社区", "1234", "12.50", "0.875", "2026-03-01", "2026-03-01T08:30:00+08:00"],
        ["'@cmd", "0", "", "", "", ""],
    ]  # fmt: skip


def test_xlsx_types_each_kind_and_says_where_the_rows_come_from() -> None:
    out = io.BytesIO()
    assert write_xlsx(out, EXPORT, iter(ROWS)) == 2
    book = load_workbook(io.BytesIO(out.getvalue()))
    assert book.sheetnames == ["Scorecard· HG·WH", ABOUT_SHEET]  # no ':' or '/' in a name
    sheet = book.worksheets[0]
    first = {c.column_letter: c for c in sheet[2]}
    assert first["A"].value == "北环社区"
    assert (first["B"].value, first["B"].number_format) == (1234, "#,##0")
    assert (first["C"].value, first["C"].number_format) == (12.5, "#,##0.00")
    assert (first["D"].value, first["D"].number_format) == (0.875, "0.0%")
    assert first["E"].is_date and first["E"].value.date() == date(2026, 3, 1)
    assert first["F"].value == datetime(2026, 3, 1, 8, 30)  # Asia/Shanghai
    assert [c.value for c in sheet[3]] == ["@cmd", 0, None, None, None, None]
    assert sheet.auto_filter.ref == "A1:F3"
    assert sheet.column_dimensions["F"].width >= 20
    about = dict(book[ABOUT_SHEET].iter_rows(values_only=True))
    assert about["Period / 期间"] == "[2026-03-01, 2026-04-01)"
    assert about["As of / 截至"] == "2026-04-02T00:00:00+08:00"
    assert about["Projection position / 投影位置"] == "42"
    assert about["Rows / 行数"] == "2"


def test_an_empty_table_is_its_header_and_file_names_are_plain() -> None:
    out = io.BytesIO()
    assert write_xlsx(out, EXPORT, iter([])) == 0
    sheet = load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
    assert sheet["A1"].value == "Name / 名称" and sheet.max_row == 1
    assert EXPORT.name == "scorecard-HG-WH-2026-03-01"
    assert file_name("points-ledger", "a b/c", None, "") == "points-ledger-a_b_c"
    assert file_name() == "export"
