"""Types every schema shares: bounded texts, codes, times and the command answer.

Every value a client sends is bounded here, so nothing it sends can reach the store or
the query tables as a value they cannot hold (NUL characters, unpaired surrogates,
numbers beyond a column, dates beyond the calendar).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from domain.commands.base import CommandResult

FIRST_YEAR, LAST_YEAR = 1970, 2200
T = TypeVar("T")


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode") from None
    return value


def _in_calendar(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"the year must lie between {FIRST_YEAR} and {LAST_YEAR}")
    return value


def _utc(value: datetime) -> datetime:
    _in_calendar(value.date())
    return value.astimezone(UTC)


STORABLE = AfterValidator(_storable)
"""Refuses a text the database cannot store."""


def length(max_length: int, min_length: int = 1) -> StringConstraints:
    """A text of `min_length` to `max_length` characters: `Annotated[str, length(50),
    STORABLE]` (an alias a type checker reads, unlike one `text()` makes at run time)."""
    return StringConstraints(min_length=min_length, max_length=max_length)


def text(max_length: int, min_length: int = 1) -> Any:
    """A text of `min_length` to `max_length` characters that the database can store."""
    return Annotated[str, length(max_length, min_length), STORABLE]


Code = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
    Field(examples=["HG-WH-BH-01"]),
]
"""A jurisdiction code: letters, digits, `-`, `_`, `.`."""
Name = Annotated[str, length(200), STORABLE]
Note = Annotated[str, length(2000), STORABLE]
Instant = Annotated[AwareDatetime, AfterValidator(_utc), Field(examples=["2026-03-01T08:00:00Z"])]
Day = Annotated[date, AfterValidator(_in_calendar), Field(examples=["2026-03-31"])]


class Body(BaseModel):
    """A request body: unknown fields are refused, floats must be finite."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Answer(BaseModel):
    """What a command answers: the aggregate, its version, the global position recorded."""

    id: UUID
    version: int = Field(examples=[3])
    position: int = Field(
        examples=[1042], description="Pass as min_position to read your own write."
    )

    @classmethod
    def of(cls, result: CommandResult) -> Any:
        fields = {k: v for k, v in result.extra.items() if k in cls.model_fields}
        return cls(id=result.id, version=result.version, position=result.position, **fields)


def created(
    response: Response, result: CommandResult, location: str, model: type[Answer] = Answer
) -> Any:
    """A 201 answer, with the new resource's `Location`."""
    response.headers["Location"] = location
    return model.of(result)


class PageOf(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` as `cursor` for the next (null: the last)."""

    items: list[T]
    next_cursor: str | None = None
