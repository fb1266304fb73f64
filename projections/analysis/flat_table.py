"""Flat tables: the columns of a figure set laid out for a spreadsheet.

Scorecards, the trial balance and ledgers are also offered as files (`api/exports.py`);
each says here which columns it has, with an English and a Chinese header, and how its
values are to be read (`Kind`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"
    DECIMAL = "decimal"
    RATE = "rate"
    """A fraction (0.875), shown as a percentage."""
    DATE = "date"
    DATETIME = "datetime"


_WIDTHS = {Kind.INT: 12, Kind.DECIMAL: 14, Kind.RATE: 10, Kind.DATE: 12, Kind.DATETIME: 20}


@dataclass(frozen=True)
class Column:
    """A column of a flat table: the row key it shows, its headers, and its kind."""

    key: str
    en: str
    zh: str
    kind: Kind = Kind.TEXT
    width: int | None = None
    """Characters, in a workbook; by default from the kind and the header."""

    @property
    def header(self) -> str:
        return f"{self.en} / {self.zh}"

    @property
    def columns_wide(self) -> int:
        if self.width is not None:
            return self.width
        header = len(self.en) + 2 * len(self.zh) + 3  # a Chinese character is two wide
        return max(_WIDTHS.get(self.kind, 16), min(header // 2 + 2, 40))
