"""Reading the query tables: conditions, one row, rows, a stream, keyset pages, and
what a reader may see (`Reach`).

The query functions of each family (`projections.views.<family>`) are built from these;
the HTTP routes call those functions and hold no SQL of their own.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, LiteralString
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

Connection = psycopg.Connection[Any]
Row = dict[str, Any]
Statement = LiteralString | sql.SQL | sql.Composed
"""A statement psycopg executes: its text, or composed."""
Clause = LiteralString | sql.Composable
"""A WHERE condition: its text, or composed."""
Filters = tuple[Clause, Any]
"""A WHERE condition and its value (None: the filter does not apply; a tuple: several)."""
Filter = tuple[sql.Composable, tuple[Any, ...]]
"""A condition and its parameters, for `conditions`."""
EVERYTHING: Filter = (sql.SQL("TRUE"), ())
NOTHING: Filter = (sql.SQL("FALSE"), ())
Found = tuple[list[Row], str | None]
"""A page of rows, and the cursor of the next page (None: it was the last)."""


class BadCursorError(ValueError):
    """Raised when a list's `cursor` is not one this server made (422)."""


@dataclass(frozen=True)
class Reach:
    """What a reader may see of the query tables: everything, the subtree of a scope, or
    the rows of one member (`member`); with none of them, nothing."""

    everything: bool = False
    scope: str | None = None
    member: UUID | None = None

    def condition(self, *, scoped: Clause, scoped_params: int, own: Clause | None) -> Filter:
        """`scoped` (taking the scope `scoped_params` times) for a reader by scope, `own`
        (taking the member) for a member, TRUE for one that sees everything."""
        if self.everything:
            return EVERYTHING
        if self.scope is not None:
            return _composed(scoped), (self.scope,) * scoped_params
        if own is not None and self.member is not None:
            return _composed(own), (self.member,)
        return NOTHING


def _composed(clause: Clause) -> sql.Composable:
    return clause if isinstance(clause, sql.Composable) else sql.SQL(clause)


def one(conn: Connection, query: Statement, *params: Any) -> Row | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchone()


def rows(conn: Connection, query: Statement, *params: Any) -> list[Row]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


@contextmanager
def stream(
    conn: Connection, query: Statement, params: Sequence[Any], size: int = 2000
) -> Iterator[Iterator[Row]]:
    """Every row of `query`, fetched `size` at a time by a server-side cursor (in a
    transaction of its own): a whole list, never all of it in memory at once. The cursor
    and its transaction end with the block, whether the rows were all read or not."""
    with conn.transaction(), conn.cursor(name="stream", row_factory=dict_row) as cur:
        cur.itersize = size
        cur.execute(query, params)
        yield iter(cur)


def encode_cursor(values: Sequence[Any]) -> str:
    text = json.dumps([str(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError):
        raise BadCursorError("cursor is not one this server made") from None
    if (
        not isinstance(values, list)
        or len(values) != size
        or not all(isinstance(v, str) and "\x00" not in v for v in values)
    ):
        raise BadCursorError("cursor is not one this server made")
    return values


def conditions(*filters: Filters) -> tuple[list[sql.Composable], list[Any]]:
    """The WHERE clauses, and their parameters, of the filters whose value is not None;
    a clause with several placeholders takes a tuple of values."""
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for clause, value in filters:
        if value is None:
            continue
        clauses.append(_composed(clause))
        params.extend(value if isinstance(value, tuple) else (value,))
    return clauses, params


def where(clauses: Sequence[sql.Composable]) -> sql.Composable:
    """`WHERE` and the clauses joined by AND (nothing, for no clause)."""
    return sql.SQL("WHERE ") + sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("")


def matching(
    conn: Connection, select: LiteralString, *filters: Filters, order: LiteralString = ""
) -> list[Row]:
    """The rows of `select` (a SELECT ... FROM without WHERE) matching every filter (see
    `conditions`; at least one must apply), in the `order` given (an ORDER BY clause)."""
    clauses, params = conditions(*filters)
    condition = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses)
    return rows(conn, sql.SQL(select) + condition + sql.SQL(order), *params)


def first(conn: Connection, select: LiteralString, *filters: Filters) -> Row | None:
    """The first row `matching` the filters, if any."""
    found = matching(conn, select, *filters, order=" LIMIT 1")
    return found[0] if found else None


class Page:
    """A keyset page over `keys` (columns unique together), ascending or descending."""

    def __init__(self, keys: Sequence[str], *, descending: bool = False) -> None:
        self.keys = list(keys)
        self.descending = descending

    def fetch(
        self,
        conn: Connection,
        select: sql.Composable,
        clauses: list[sql.Composable],
        params: list[Any],
        limit: int,
        cursor: str | None,
    ) -> Found:
        """The rows of `select` (a SELECT ... FROM without WHERE) matching `clauses`,
        after `cursor`, at most `limit`; and the cursor of the next page, if any."""
        clauses = list(clauses)
        params = list(params)
        columns = sql.SQL(", ").join(sql.Identifier(k) for k in self.keys)
        if cursor is not None:
            values = decode_cursor(cursor, len(self.keys))
            after = sql.SQL(", ").join(sql.Placeholder() * len(values))
            operator = sql.SQL("<" if self.descending else ">")
            clauses.append(sql.SQL("({}) {} ({})").format(columns, operator, after))
            params.extend(values)
        direction = sql.SQL(" DESC" if self.descending else "")
        order = sql.SQL(", ").join(sql.Identifier(k) + direction for k in self.keys)
        query = sql.SQL("{} {} ORDER BY {} LIMIT {}").format(
            select, where(clauses), order, sql.Literal(limit + 1)
        )
        try:
            found = rows(conn, query, *params)
        except psycopg.DataError:  # a cursor whose values are no keys of this list
            if cursor is None:
                raise
            raise BadCursorError("cursor is not one this server made") from None
        if len(found) <= limit:
            return found, None
        found = found[:limit]
        return found, encode_cursor([found[-1][k] for k in self.keys])
