"""What a projection is, and the batch it is handed.

A projection owns a few query tables and turns events into rows. The runner hands it
a `Batch`: the events it handles, in order, and a cursor inside the transaction that
will also record the projection's position, so rows and position commit together.

Tables are declared by their base name (`tickets`); each generation of a projection
has its own physical tables (`tickets_g2`), and readers query a view under the base
name that points at the active generation. `Batch.t("tickets")` names the physical
table being written. DDL templates use `{tickets}` for the same.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any, ClassVar, cast

from eventsourcing.persistence import JSONTranscoder, Mapper
from eventsourcing.utils import get_topic
from psycopg import Cursor, sql
from psycopg.sql import SQL, Composable, Identifier  # names the method `Batch.sql` hides

from projections.engine.decoding import stored_fields
from projections.store.rendering import rendered


class Recorded:
    """A stored event at its global position, decoded on first use (`event`), or only
    parsed (`fields`: its stored JSON as plain values, transcoded ones still
    `{"_type_": ..., "_data_": ...}`; for a projection that reads a field or two of
    many events, at a fraction of the cost of decoding them)."""

    __slots__ = ("_event", "_fields", "_mapper", "notification", "position", "topic")

    def __init__(self, notification: Any, mapper: Mapper[Any]) -> None:
        """`notification`: the stored event (a `Notification`, or any object with its
        attributes: id, originator_id, originator_version, topic, state)."""
        self.notification = notification
        self.position: int = notification.id
        self.topic: str = notification.topic
        self._mapper = mapper
        self._event: Any = None
        self._fields: dict[str, Any] | None = None

    @property
    def event(self) -> Any:
        if self._event is None:
            self._event = self._mapper.to_domain_event(self.notification)
        return self._event

    @property
    def fields(self) -> dict[str, Any]:
        if self._fields is None:
            self._fields = stored_fields(self._mapper, self.notification.state)
        return self._fields

    def field(self, name: str) -> Any:
        """The field `name` of `fields`, decoded as `event` would hold it."""
        value = self.fields[name]
        if type(value) is dict and len(value) == 2 and "_type_" in value and "_data_" in value:
            transcoder = cast(JSONTranscoder, self._mapper.transcoder)
            return transcoder.names[value["_type_"]].decode(value["_data_"])
        return value


class Projection(ABC):
    name: ClassVar[str]
    schema_version: ClassVar[int] = 1
    tables: ClassVar[dict[str, str]]
    """Base table name -> CREATE TABLE template ({base} placeholders name tables)."""
    indexes: ClassVar[list[str]] = []
    """CREATE INDEX templates; index names get the generation suffix via {g}."""
    event_types: ClassVar[tuple[type, ...]] = ()
    """The event classes it handles; empty means every event."""
    rebuild_weight: ClassVar[float] = 1.0
    """The relative cost of one event it handles in a rebuild, to share projections out
    among rebuild workers: 1.0 is about 40 µs an event. `bench/projections.py --workers
    1 --rebuild-only --projections NAME` prints a projection's µs per handled event; the
    figures beside each weight come from it (on the bench dataset, this 2-core machine,
    at commit 9873e0f). Weights re-measured so on 2026-11-23 (about a third lighter for
    the projections that work inside the database) gave slower two-worker rebuilds:
    on 2026-12-07, three runs each, alternated, 55.3, 52.6 and 53.3 s against 54.4, 48.4
    and 47.0 s with these; so these stand."""
    reads_events: ClassVar[bool] = True
    """False for a projection that reads the events table itself (inside the database):
    the runner then fetches no events for it, only tells it the positions."""

    def handled(self) -> frozenset[str] | None:
        """The topics of the events it handles (None: every topic)."""
        return topics_of(self.event_types) if self.event_types else None

    def topics(self) -> frozenset[str] | None:
        """The topics of the events it needs fetched (None: every topic)."""
        return self.handled() if self.reads_events else frozenset()

    @abstractmethod
    def apply(self, batch: Batch) -> None:
        """Write the rows for `batch.events` (all of which this projection handles)."""

    def ddl(self, generation: int) -> list[sql.Composed]:
        """CREATE TABLE statements of a generation's tables."""
        names = table_names(self, generation)
        return [sql.SQL(template).format(**names) for template in self.tables.values()]

    def index_ddl(self, generation: int) -> list[sql.Composed]:
        """CREATE INDEX statements of a generation's secondary indexes."""
        names = table_names(self, generation)
        return [
            sql.SQL(template).format(**names, g=sql.SQL(str(generation)))
            for template in self.indexes
        ]


@cache
def topics_of(classes: tuple[type, ...]) -> frozenset[str]:
    """The topics of `classes` and of every subclass of them defined so far."""
    found: set[str] = set()
    pending = list(classes)
    while pending:
        cls = pending.pop()
        found.add(get_topic(cls))
        pending.extend(cls.__subclasses__())
    return frozenset(found)


def physical(base: str, generation: int) -> str:
    return f"{base}_g{generation}"


def table_names(projection: Projection, generation: int) -> dict[str, sql.Identifier]:
    return _table_names(tuple(projection.tables), generation)


@cache
def _table_names(bases: tuple[str, ...], generation: int) -> dict[str, sql.Identifier]:
    """Made once per generation: every batch of every page asks for them."""
    return {base: sql.Identifier(physical(base, generation)) for base in bases}


class Batch:
    """One batch of events for one projection, and the tools to write its rows.

    `events` are those it handles with positions in (`after`, `last`]; a projection
    that works inside the database may instead read that range of the events table.
    """

    def __init__(
        self,
        cursor: Cursor[Any],
        projection: Projection,
        generation: int,
        events: Sequence[Recorded],
        after: int,
        last: int,
    ) -> None:
        self.cur = cursor
        self.events = events
        self.after = after
        self.last = last
        self.generation = generation
        self._names = table_names(projection, generation)
        self._tables = (projection.name, generation)

    def t(self, base: str) -> sql.Identifier:
        return self._names[base]

    def sql(self, template: str, **extra: Any) -> SQL:
        """`template` with this generation's table names and `extra` filled in. The
        statement is kept if every value of `extra` is the same object as last time
        (pass module-level constants)."""
        values = tuple(extra.values())
        key = (self._tables, template, tuple(extra), tuple(map(id, values)))
        return self._rendered(key, lambda: sql.SQL(template).format(**self._names, **extra), values)

    def _rendered(
        self, key: Any, compose: Callable[[], Composable], values: tuple[Any, ...] = ()
    ) -> SQL:
        """The statement `compose()` makes, rendered once a process and kept under
        `key` (which must say everything it depends on, `values` by identity: they are
        kept with it, so no other object can take their ids). Composing and rendering
        the same statements again every batch cost a live page about 5% of its CPU."""
        found = _RENDERED.get(key)
        if found is None or any(a is not b for a, b in zip(found[1], values, strict=True)):
            if len(_RENDERED) >= RENDERED_KEPT:
                _RENDERED.clear()
            found = _RENDERED[key] = (rendered(compose(), self.cur), values)
        return found[0]

    def executemany(self, template: str, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> None:
        rows = list(rows)
        if rows:
            self.cur.executemany(self.sql(template), rows)

    def copy(self, base: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        statement = self._rendered(
            (self._tables, "copy", base, tuple(columns)),
            lambda: sql.SQL("COPY {} ({}) FROM STDIN").format(self.t(base), _names(columns)),
        )
        with self.cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def fetch(self, base: str, key: str, keys: Iterable[Any]) -> dict[Any, dict[str, Any]]:
        """The current rows of `base` whose `key` is among `keys`, as dicts."""
        wanted = list(set(keys))
        if not wanted:
            return {}
        statement = self._rendered(
            (self._tables, "fetch", base, key),
            lambda: sql.SQL("SELECT * FROM {} WHERE {} = ANY(%s)").format(
                self.t(base), sql.Identifier(key)
            ),
        )
        self.cur.execute(statement, (wanted,))
        assert self.cur.description is not None
        names = [c.name for c in self.cur.description]
        return {row[names.index(key)]: dict(zip(names, row, strict=True)) for row in self.cur}

    def upsert(self, base: str, key: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace whole rows (every row has the same columns; a key given
        twice keeps its last row). Many rows go through a staging table by COPY."""
        rows = _last_per_key(key, rows)
        if not rows:
            return
        columns = list(rows[0])

        def conflict() -> sql.Composable:
            return sql.SQL("ON CONFLICT ({key}) DO UPDATE SET {set}").format(
                key=_names(key),
                set=sql.SQL(", ").join(
                    sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
                    for c in columns
                    if c not in key
                ),
            )

        if len(rows) < STAGE_FROM:
            statement = self._rendered(
                (self._tables, "upsert", base, tuple(key), tuple(columns)),
                lambda: sql.SQL("INSERT INTO {} ({}) VALUES ({}) {}").format(
                    self.t(base),
                    _names(columns),
                    sql.SQL(", ").join(sql.Placeholder(c) for c in columns),
                    conflict(),
                ),
            )
            self.cur.executemany(statement, rows)
            return
        stage = self._stage(base, columns, rows)
        self.cur.execute(
            sql.SQL("INSERT INTO {} ({cols}) SELECT {cols} FROM {} {}").format(
                self.t(base), stage, conflict(), cols=_names(columns)
            )
        )
        self.cur.execute(sql.SQL("TRUNCATE {}").format(stage))

    def update(self, base: str, key: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
        """Set the given columns of existing rows, found by `key` (every row has the
        same columns). Many rows go through a staging table by COPY."""
        rows = _last_per_key(key, rows)
        if not rows:
            return
        columns = [c for c in rows[0] if c not in key]
        target = sql.SQL("UPDATE {} AS t SET ({}) = ").format(self.t(base), _names(columns))
        if len(rows) < STAGE_FROM:

            def one_by_one() -> sql.Composable:
                match = sql.SQL(" AND ").join(
                    sql.SQL("t.{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in key
                )
                values = sql.SQL(", ").join(sql.Placeholder(c) for c in columns)
                return target + sql.SQL("ROW({}) WHERE {}").format(values, match)

            statement = self._rendered(
                (self._tables, "update", base, tuple(key), tuple(columns)), one_by_one
            )
            self.cur.executemany(statement, rows)
            return
        stage = self._stage(base, [*columns, *key], rows)
        match = sql.SQL(" AND ").join(
            sql.SQL("t.{0} = s.{0}").format(sql.Identifier(k)) for k in key
        )
        values = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in columns)
        self.cur.execute(
            target + sql.SQL("ROW({}) FROM {} AS s WHERE {}").format(values, stage, match)
        )
        self.cur.execute(sql.SQL("TRUNCATE {}").format(stage))

    def _stage(
        self, base: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
    ) -> Identifier:
        """COPY `rows` into this connection's temporary staging table for `base`: the
        table's columns and types without its constraints, empty after each use."""
        table = self._names[base]
        stage = sql.Identifier(f"stage_{physical(base, self.generation)}")
        self.cur.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE IF NOT EXISTS {} AS SELECT * FROM {} WITH NO DATA"
            ).format(stage, table)
        )
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(stage, _names(columns))
        with self.cur.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return stage


RENDERED_KEPT = 10_000
"""At most this many rendered statements are kept (past it, the cache starts afresh)."""
_RENDERED: dict[Any, tuple[sql.SQL, tuple[Any, ...]]] = {}

STAGE_FROM = 64
"""From this many rows an upsert or update goes by COPY through a staging table; fewer
(a live worker's small batches) go by one pipelined statement per row."""


def _names(columns: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(c) for c in columns)


def _last_per_key(key: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if len(key) == 1:
        (k,) = key
        return list({row[k]: row for row in rows}.values())
    return list({tuple(row[k] for k in key): row for row in rows}.values())
