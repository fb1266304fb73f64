"""The jurisdiction tree and the rosters of who reported in where (报到, 认领).

`jurisdictions`: one row per node, with its path from the root, for
`GET /v1/jurisdictions/{code}` and `/children` (index on `parent`; GIN on `path`, so a
subtree is `path @> ARRAY[code]`).

`rosters`: who reported in to, or holds a role in, each part of the tree. Each row
carries the `path` of the place it names (the grid if one was named, else the
community; a role's jurisdiction), so `GET /v1/jurisdictions/{code}/roster` is
`WHERE path @> ARRAY[code]`. `roster_roles` keeps every claim, one row per claim
(keyed by the claim's position), with `released_at` set when it is released; held
roles have `released_at IS NULL`. The projection keeps its own `roster_paths` (from
`Jurisdiction.Defined`) since it may not read another projection's tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg import sql

from domain.jurisdiction import Jurisdiction
from domain.member import Member
from domain.organisation import Organisation
from projections.engine.batch import Batch, Projection
from projections.views.reading import (
    Connection,
    Filter,
    Found,
    Page,
    Reach,
    Row,
    conditions,
    one,
    where,
)

DEFINED = Jurisdiction.Defined
MEMBER_IN = Member.ReportedIn
CLAIMED = Member.RoleClaimed
RELEASED = Member.RoleReleased
ORGANISATION_IN = Organisation.ReportedIn


class Jurisdictions(Projection):
    name = "jurisdictions"
    tables = {
        "jurisdictions": (
            "CREATE TABLE IF NOT EXISTS {jurisdictions} ("
            " code text PRIMARY KEY, id uuid NOT NULL UNIQUE, kind text NOT NULL,"
            " name text NOT NULL, parent text, path text[] NOT NULL, depth int NOT NULL,"
            " defined_at timestamptz NOT NULL, renamed_at timestamptz,"
            " version int NOT NULL, last_position bigint NOT NULL)"
        ),
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS jurisdictions_g{g}_parent ON {jurisdictions} (parent)",
        "CREATE INDEX IF NOT EXISTS jurisdictions_g{g}_path ON {jurisdictions} USING gin (path)",
    ]
    event_types = (DEFINED, Jurisdiction.Renamed)

    def apply(self, batch: Batch) -> None:
        later = {r.event.originator_id for r in batch.events if type(r.event) is not DEFINED}
        rows = batch.fetch("jurisdictions", "id", later)
        touched: dict[Any, dict[str, Any]] = {}
        for r in batch.events:
            e = r.event
            if type(e) is DEFINED:
                row = {
                    "code": e.code,
                    "id": e.originator_id,
                    "kind": e.kind,
                    "name": e.name,
                    "parent": e.parent,
                    "path": list(e.path),
                    "depth": len(e.path) - 1,
                    "defined_at": e.timestamp,
                    "renamed_at": None,
                }
                rows[e.originator_id] = row
            else:
                row = rows[e.originator_id]
                row["name"] = e.name
                row["renamed_at"] = e.timestamp
            row["version"] = e.originator_version
            row["last_position"] = r.position
            touched[e.originator_id] = row
        batch.upsert("jurisdictions", ["code"], list(touched.values()))


class Rosters(Projection):
    name = "rosters"
    tables = {
        "roster_paths": (
            "CREATE TABLE IF NOT EXISTS {roster_paths}"
            " (code text PRIMARY KEY, path text[] NOT NULL)"
        ),
        "roster_members": (
            "CREATE TABLE IF NOT EXISTS {roster_members} ("
            " member_id uuid NOT NULL, community text NOT NULL, grid text, organisation_id uuid,"
            " reported_at timestamptz NOT NULL, path text[] NOT NULL, position bigint NOT NULL,"
            " PRIMARY KEY (member_id, community))"
        ),
        "roster_roles": (
            "CREATE TABLE IF NOT EXISTS {roster_roles} ("
            " claim_position bigint PRIMARY KEY, member_id uuid NOT NULL, role text NOT NULL,"
            " jurisdiction text NOT NULL, title text, community text NOT NULL,"
            " claimed_at timestamptz NOT NULL, released_at timestamptz,"
            " path text[] NOT NULL)"
        ),
        "roster_organisations": (
            "CREATE TABLE IF NOT EXISTS {roster_organisations} ("
            " organisation_id uuid NOT NULL, community text NOT NULL, needs text[] NOT NULL,"
            " resources text[] NOT NULL, projects text[] NOT NULL,"
            " reported_at timestamptz NOT NULL, path text[] NOT NULL, position bigint NOT NULL,"
            " PRIMARY KEY (organisation_id, community))"
        ),
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS roster_members_g{g}_path ON {roster_members} USING gin (path)",
        "CREATE INDEX IF NOT EXISTS roster_roles_g{g}_path ON {roster_roles} USING gin (path)",
        "CREATE INDEX IF NOT EXISTS roster_roles_g{g}_held ON {roster_roles} (member_id)"
        " WHERE released_at IS NULL",
        "CREATE INDEX IF NOT EXISTS roster_organisations_g{g}_path"
        " ON {roster_organisations} USING gin (path)",
    ]
    event_types = (DEFINED, MEMBER_IN, CLAIMED, RELEASED, ORGANISATION_IN)

    def apply(self, batch: Batch) -> None:
        paths, wanted, releasing = self._scan(batch)
        paths.update(_paths(batch, wanted.difference(paths)))
        new_paths: list[tuple[str, list[str]]] = []
        members: list[tuple[Any, ...]] = []
        organisations: list[tuple[Any, ...]] = []
        held = _held_roles(batch, releasing)
        touched: dict[int, dict[str, Any]] = {}
        for r in batch.events:
            e = r.event
            kind = type(e)
            if kind is DEFINED:
                new_paths.append((e.code, list(e.path)))
            elif kind is MEMBER_IN:
                members.append(
                    (e.originator_id, e.community, e.grid, e.organisation_id, e.timestamp,
                     paths[e.grid or e.community], r.position)
                )  # fmt: skip
            elif kind is ORGANISATION_IN:
                organisations.append(
                    (e.originator_id, e.community, e.needs, e.resources, e.projects,
                     e.timestamp, paths[e.community], r.position)
                )  # fmt: skip
            elif kind is CLAIMED:
                row = _claim(e, r.position, paths[e.jurisdiction])
                touched[r.position] = row
                held.setdefault((e.originator_id, e.role, e.jurisdiction), []).append(row)
            else:
                for row in held.pop((e.originator_id, e.role, e.jurisdiction), []):
                    row["released_at"] = e.timestamp
                    touched[row["claim_position"]] = row
        if new_paths:
            batch.copy("roster_paths", ["code", "path"], new_paths)
        if members:
            batch.copy("roster_members", MEMBER_COLUMNS, members)
        if organisations:
            batch.copy("roster_organisations", ORGANISATION_COLUMNS, organisations)
        batch.upsert("roster_roles", ["claim_position"], [touched[p] for p in sorted(touched)])

    @staticmethod
    def _scan(batch: Batch) -> tuple[dict[str, list[str]], set[str], set[Any]]:
        """The paths defined in the batch, the codes it names, the members releasing roles."""
        paths: dict[str, list[str]] = {}
        wanted: set[str] = set()
        releasing: set[Any] = set()
        for r in batch.events:
            e = r.event
            kind = type(e)
            if kind is DEFINED:
                paths[e.code] = list(e.path)
            elif kind is MEMBER_IN:
                wanted.add(e.grid or e.community)
            elif kind is ORGANISATION_IN:
                wanted.add(e.community)
            elif kind is CLAIMED:
                wanted.add(e.jurisdiction)
            else:
                releasing.add(e.originator_id)
        return paths, wanted, releasing


MEMBER_COLUMNS = [
    "member_id",
    "community",
    "grid",
    "organisation_id",
    "reported_at",
    "path",
    "position",
]
ORGANISATION_COLUMNS = [
    "organisation_id",
    "community",
    "needs",
    "resources",
    "projects",
    "reported_at",
    "path",
    "position",
]


def _paths(batch: Batch, codes: Iterable[str]) -> dict[str, list[str]]:
    wanted = sorted(codes)
    if not wanted:
        return {}
    batch.cur.execute(
        batch.sql("SELECT code, path FROM {roster_paths} WHERE code = ANY(%s)"), (wanted,)
    )
    return {code: path for code, path in batch.cur.fetchall()}


def _claim(e: Any, position: int, path: list[str]) -> dict[str, Any]:
    """The roster_roles row of a role claimed at `position`."""
    return {
        "claim_position": position,
        "member_id": e.originator_id,
        "role": e.role,
        "jurisdiction": e.jurisdiction,
        "title": e.title,
        "community": e.community,
        "claimed_at": e.timestamp,
        "released_at": None,
        "path": path,
    }


def _held_roles(
    batch: Batch, members: set[Any]
) -> dict[tuple[Any, str, str], list[dict[str, Any]]]:
    """The claims `members` still held before this batch, by (member, role, jurisdiction)."""
    if not members:
        return {}
    batch.cur.execute(
        batch.sql("SELECT * FROM {roster_roles} WHERE member_id = ANY(%s) AND released_at IS NULL"),
        (sorted(members),),
    )
    assert batch.cur.description is not None
    names = [c.name for c in batch.cur.description]
    held: dict[tuple[Any, str, str], list[dict[str, Any]]] = {}
    for values in batch.cur.fetchall():
        row = dict(zip(names, values, strict=True))
        held.setdefault((row["member_id"], row["role"], row["jurisdiction"]), []).append(row)
    return held


# --- reads: the queries of the HTTP API, and the read policy's conditions on the tree ---

SUBTREE = sql.SQL("SELECT code FROM jurisdictions WHERE path @> ARRAY[%s]::text[]")
"""The codes of the subtree of the code given."""
SCOPE_AND_ITS_COMMUNITY = sql.SQL(
    "{} UNION SELECT unnest(path) FROM jurisdictions WHERE code = %s"
).format(SUBTREE)
"""The codes of the scope's subtree, and of the nodes above the scope (among which the
community it lies in): a community-level column matches one of those exactly when
`permissions.Place.within` holds for it."""
NODE = sql.SQL("SELECT code, kind, name, parent, path, depth, version FROM jurisdictions")
ROSTER = sql.SQL(
    "SELECT * FROM ("
    " SELECT 'member' AS kind, r.member_id AS id, m.name, r.community, r.grid,"
    " r.organisation_id, r.reported_at, r.position, r.path"
    " FROM roster_members r LEFT JOIN members m ON m.id = r.member_id WHERE r.path @> ARRAY[%s]"
    " UNION ALL"
    " SELECT 'organisation', r.organisation_id, o.name, r.community, NULL, NULL,"
    " r.reported_at, r.position, r.path FROM roster_organisations r"
    " LEFT JOIN organisations o ON o.id = r.organisation_id WHERE r.path @> ARRAY[%s]"
    ") AS roster"
)


def in_subtree(column: sql.Composable) -> sql.Composable:
    """`column` names a jurisdiction in the subtree of the code given."""
    return sql.SQL("{} IN ({})").format(column, SUBTREE)


def in_community_of(reach: Reach, column: sql.Composable, member: sql.Composable | None) -> Filter:
    """Rows that belong to the community (or grid) in `column` (pledges, points,
    attendance) that `reach` sees: those of the communities in its scope's subtree and
    of the community its scope lies in; a member's own, by the member in `member`."""
    return reach.condition(
        scoped=sql.SQL("{} IN ({})").format(column, SCOPE_AND_ITS_COMMUNITY),
        scoped_params=2,
        own=None if member is None else sql.SQL("{} = %s").format(member),
    )


def known(conn: Connection, code: str) -> Row | None:
    """The code, if a jurisdiction has it."""
    return one(conn, "SELECT code FROM jurisdictions WHERE code = %s", code)


def place(conn: Connection, code: str) -> tuple[str, list[str]] | None:
    """The kind and the path of the jurisdiction `code`, if there is one."""
    row = conn.execute("SELECT kind, path FROM jurisdictions WHERE code = %s", (code,)).fetchone()
    return None if row is None else (row[0], row[1])


def node(conn: Connection, code: str) -> Row | None:
    return one(conn, NODE + sql.SQL(" WHERE code = %s"), code)


def children(conn: Connection, code: str, limit: int, cursor: str | None) -> Found:
    """The jurisdictions directly under `code`, by code."""
    return Page(["code"]).fetch(conn, NODE, [sql.SQL("parent = %s")], [code], limit, cursor)


def roster(
    conn: Connection, code: str, reach: Reach, kind: str | None, limit: int, cursor: str | None
) -> Found:
    """The members and organisations reported in to the subtree of `code` that `reach`
    sees (within its scope; a member, itself), in the order they reported in."""
    visible = reach.condition(
        scoped="path @> ARRAY[%s]::text[]", scoped_params=1, own="kind = 'member' AND id = %s"
    )
    clauses, params = conditions(visible, ("kind = %s", kind))
    return Page(["position"]).fetch(conn, ROSTER, clauses, [code, code, *params], limit, cursor)


def communities(conn: Connection, reach: Reach, jurisdiction: str | None) -> list[str]:
    """The communities in the subtree of `jurisdiction` (None: every one) that `reach`
    sees, by code."""
    clauses, params = conditions(
        ("kind = 'community'", ()),
        ("path @> ARRAY[%s]::text[]", jurisdiction),
        in_community_of(reach, sql.Identifier("code"), None),
    )
    query = sql.SQL("SELECT code FROM jurisdictions {} ORDER BY code").format(where(clauses))
    return [r[0] for r in conn.execute(query, params).fetchall()]
