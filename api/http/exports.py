"""Tables as files for evaluators' spreadsheets: `?format=csv` or `?format=xlsx`.

A table is a list of columns, each a key of the rows, an English and a Chinese header
(written "English / 中文") and a kind that says how its values are written:

| kind | CSV | XLSX |
|---|---|---|
| text | as is (but see below) | a string cell (never a formula) |
| int, decimal | the number | a number, `#,##0` / `#,##0.00` |
| rate | the fraction (0.875) | a number shown as a percentage (87.5%) |
| date | ISO 8601 (2026-03-01) | a date |
| datetime | ISO 8601 in Asia/Shanghai with its offset | a date and time in Asia/Shanghai |

CSV is UTF-8 with a byte-order mark, so Excel opens Chinese text correctly; a text
that Excel would run as a formula (starting `=`, `+`, `-`, `@`, tab, CR) gets a leading
`'`. In a workbook, text is never a formula, and a control character XML forbids
(\x00-\x08, \x0b, \x0c, \x0e-\x1f) becomes U+FFFD. The
workbook has the table on its first sheet (bold, frozen header row, a filter, widths
by kind) and an "About · 说明" sheet: the query, the period, as_of, the projection
position the rows reflect and when the file was made.

Rows are consumed once, as they come (from a server-side cursor, say), and written to
a spooled temporary file (in memory up to 8 MiB, then on disk) that the response then
streams: no more than one copy of a large table is ever held.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from tempfile import SpooledTemporaryFile
from typing import IO, Annotated, Any

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from api.http.problems import POSITION_HEADER
from domain.calendar import LOCAL_TZ
from projections.analysis.flat_table import Column, Kind

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPOOL_BYTES = 8 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A CSV text cell starting so is a formula to Excel (CSV injection): it gets a `'`."""
ABOUT_SHEET = "About · 说明"
TIMES_NOTE = "Asia/Shanghai (UTC+08:00)"


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


FormatQuery = Annotated[
    Format,
    Query(
        alias="format",
        description="json (the default), csv (UTF-8 with a BOM) or xlsx: the whole list as a "
        "file with English / Chinese headers, not one page.",
    ),
]

FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The JSON page, or with `format=csv|xlsx` the whole list as a file.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
"""The file answers to merge into an endpoint's `responses`."""

_NUMBER_FORMATS = {
    Kind.INT: "#,##0",
    Kind.DECIMAL: "#,##0.00",
    Kind.RATE: "0.0%",
    Kind.DATE: "yyyy-mm-dd",
    Kind.DATETIME: "yyyy-mm-dd hh:mm:ss",
}
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="E8EEF5")
_WRAP = Alignment(wrap_text=True, vertical="top")


@dataclass(frozen=True)
class Export:
    """What a file holds besides its rows: its name, title, columns and provenance."""

    name: str
    """The file name without extension (ASCII letters, digits, `-`, `_`, `.`)."""
    title: str
    """The table sheet's title."""
    columns: Sequence[Column]
    query: str
    """The request that made it (path and query string)."""
    position: str
    """The projection position the rows reflect."""
    period: str = "all"
    as_of: str = "now"
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def file_name(*parts: object) -> str:
    """A file name stem from `parts`: ASCII letters, digits, `-`, `_` and `.` only."""
    text = "-".join(str(p) for p in parts if p is not None and str(p) != "")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.") or "export"


def request_query(request: Request) -> str:
    """The request's path and query string, as a file's "About" sheet names it."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def period_text(start: datetime | date | None, end: datetime | date | None) -> str:
    """A period [start, end) as a file's "About" sheet names it."""
    if start is None and end is None:
        return "all (balances now) / 全部（当前余额）"
    return f"[{start.isoformat() if start else '…'}, {end.isoformat() if end else '…'})"


def file_response(export: Export, rows: Iterable[Mapping[str, Any]], fmt: Format) -> Any:
    """The rows as a CSV or XLSX download (not for `Format.JSON`)."""
    spool: IO[bytes] = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (streamed, closed after)
    try:
        if fmt is Format.CSV:
            write_csv(spool, export.columns, rows)
            media_type = CSV_TYPE
        else:
            write_xlsx(spool, export, rows)
            media_type = XLSX_TYPE
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    headers = {
        "Content-Disposition": f'attachment; filename="{export.name}.{fmt.value}"',
        "Content-Length": str(size),
        "Cache-Control": "private, no-store",
        POSITION_HEADER: export.position,
    }
    return StreamingResponse(_chunks(spool), media_type=media_type, headers=headers)


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk
    finally:
        spool.close()


# --- CSV ---


def csv_value(kind: Kind, value: Any) -> str:
    """A value as written in a CSV cell (see the module's table)."""
    if value is None:
        return ""
    if kind is Kind.DATETIME and isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ).isoformat()
    if kind is Kind.DATE and isinstance(value, date):
        return value.isoformat()
    if kind in (Kind.INT, Kind.DECIMAL, Kind.RATE):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(out: IO[bytes], columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write the header and rows to `out` as UTF-8 CSV with a BOM; the rows written."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow([c.header for c in columns])
    count = 0
    for row in rows:
        writer.writerow([csv_value(c.kind, row.get(c.key)) for c in columns])
        count += 1
    text.flush()
    text.detach()
    return count


# --- XLSX ---


def xlsx_text(text: str) -> str:
    """`text` as a workbook may hold it: the control characters XML 1.0 forbids (which
    openpyxl refuses, e.g. \x01) each become U+FFFD, so a name holding one still
    exports, visibly marked, instead of failing the whole file."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)


def xlsx_value(kind: Kind, value: Any) -> Any:
    """A value as openpyxl writes it: local naive times (Excel has no time zones), text
    without the characters a workbook cannot hold (`xlsx_text`)."""
    if isinstance(value, str):
        return xlsx_text(value)
    if kind is Kind.DATETIME and isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ).replace(tzinfo=None)
    if kind is Kind.DECIMAL and isinstance(value, Decimal):
        return float(value)
    if kind is Kind.TEXT and value is not None:
        return xlsx_text(str(value))
    return value


class _Cells:
    """Makes the styled cells of one write-only sheet."""

    def __init__(self, sheet: WriteOnlyWorksheet, columns: Sequence[Column]) -> None:
        self.sheet = sheet
        self.columns = columns
        self.styles = [self._style(c.kind) for c in columns]

    def _style(self, kind: Kind) -> StyleArray | None:
        """The style of a column's cells, made once (setting number_format per cell
        looks the format up every time)."""
        if kind is Kind.TEXT:
            return None
        template = WriteOnlyCell(self.sheet)
        template.number_format = _NUMBER_FORMATS[kind]
        return template._style

    def header(self) -> list[WriteOnlyCell]:
        cells = []
        for column in self.columns:
            cell = WriteOnlyCell(self.sheet, value=column.header)
            cell.font = _BOLD
            cell.fill = _HEADER_FILL
            cell.alignment = _WRAP
            cells.append(cell)
        return cells

    def row(self, row: Mapping[str, Any]) -> list[Any]:
        cells: list[Any] = []
        for column, style in zip(self.columns, self.styles, strict=True):
            value = xlsx_value(column.kind, row.get(column.key))
            if value is None:
                cells.append(None)
            elif style is None:
                if isinstance(value, str) and value.startswith("="):
                    cell = WriteOnlyCell(self.sheet, value=value)
                    cell.data_type = "s"  # text, never a formula
                    value = cell
                cells.append(value)
            else:
                cell = WriteOnlyCell(self.sheet, value=value)
                cell._style = copy(style)
                cells.append(cell)
        return cells


def write_xlsx(out: IO[bytes], export: Export, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write a workbook of the table and its "About" sheet to `out`; the rows written."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_sheet_title(export.title))
    for index, column in enumerate(export.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.columns_wide
    sheet.freeze_panes = "A2"
    cells = _Cells(sheet, export.columns)
    sheet.append(cells.header())
    count = 0
    for row in rows:
        sheet.append(cells.row(row))
        count += 1
    last = get_column_letter(max(len(export.columns), 1))
    sheet.auto_filter.ref = f"A1:{last}{count + 1}"
    _about_sheet(book, export, count)
    book.save(out)
    return count


def _about_sheet(book: Workbook, export: Export, count: int) -> None:
    about = book.create_sheet(ABOUT_SHEET)
    about.column_dimensions["A"].width = 30
    about.column_dimensions["B"].width = 70
    lines = [
        ("Table / 表", export.title),
        ("Query / 查询", export.query),
        ("Period / 期间", export.period),
        ("As of / 截至", export.as_of),
        ("Projection position / 投影位置", export.position),
        ("Generated at / 生成时间", export.generated_at.astimezone(LOCAL_TZ).isoformat()),
        ("Rows / 行数", str(count)),
        ("Times / 时间", TIMES_NOTE),
    ]
    for label, value in lines:
        key = WriteOnlyCell(about, value=label)
        key.font = _BOLD
        text = WriteOnlyCell(about, value=xlsx_text(value))
        text.data_type = "s"
        about.append([key, text])


def _sheet_title(title: str) -> str:
    """A valid sheet name: no `[]:*?/\\`, at most 31 characters."""
    return re.sub(r"[\[\]:*?/\\]+", "·", title)[:31] or "Table"
