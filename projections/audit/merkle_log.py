"""The Merkle log: a leaf per event, in global order, and the larger complete subtrees.

Leaf `i` is the i-th event of the log (positions may skip numbers, leaf indexes do
not); its hash commits to the event's canonical record (`projections.audit.leaf_record`).
`merkle_nodes` holds the hash of every complete, aligned subtree of 2**level leaves
with level >= `STORED_FROM`; a smaller subtree (at most 2**STORED_FROM - 1 leaves'
worth) is recomputed from its leaves when a root or proof needs it
(`projections.audit.merkle_store`), so a proof is still a single query of a few dozen rows.

Each batch computes its leaf hashes inside PostgreSQL (INSERT ... SELECT over the
batch's position range of the events table, like the audit journal), so the runner
fetches no events for it; the hashes come back to Python, which grows the tree from
its peaks and COPYs the subtrees they complete (one row per 2**STORED_FROM leaves).
"""

from __future__ import annotations

from psycopg import sql

from projections.audit.leaf_record import LEAF_SQL
from projections.audit.merkle_tree import Frontier, Hash, peaks
from projections.engine.batch import Batch, Projection
from projections.store.events import EVENTS

STORED_FROM = 4
"""The smallest level of subtree stored in `merkle_nodes`."""
LEAF = sql.SQL(LEAF_SQL)


class MerkleLog(Projection):
    name = "merkle"
    reads_events = False
    rebuild_weight = 0.26  # 10.5 µs an event (inside the database)
    tables = {
        "merkle_leaves": (
            "CREATE TABLE IF NOT EXISTS {merkle_leaves} ("
            " leaf_index bigint PRIMARY KEY, position bigint NOT NULL, hash bytea NOT NULL)"
        ),
        "merkle_nodes": (
            "CREATE TABLE IF NOT EXISTS {merkle_nodes} ("
            " level smallint NOT NULL, index bigint NOT NULL, hash bytea NOT NULL,"
            " PRIMARY KEY (level, index))"
        ),
    }
    indexes = [
        "CREATE UNIQUE INDEX IF NOT EXISTS merkle_leaves_g{g}_position"
        " ON {merkle_leaves} (position)",
    ]

    _kept: tuple[tuple[int, int, int, int], Frontier] | None = None
    """The tree as this object's last batch left it, and where: (connection, backend,
    generation, position). A live runner's next batch starts there and need not read
    the peaks again; any other batch (a reconnect, another generation, a page that was
    rolled back and is read again) reads them."""

    def apply(self, batch: Batch) -> None:
        conn = batch.cur.connection
        where = (id(conn), conn.info.backend_pid, batch.generation)
        kept = self._kept
        if kept is not None and kept[0] == (*where, batch.after):
            tree = Frontier(kept[1].peaks)
        else:
            tree = self._frontier(batch)
        batch.cur.execute(
            batch.sql(
                "INSERT INTO {merkle_leaves} (leaf_index, position, hash)"
                " SELECT %s + row_number() OVER (ORDER BY notification_id) - 1,"
                " notification_id, {leaf} FROM {events}"
                " WHERE notification_id > %s AND notification_id <= %s"
                " RETURNING leaf_index, hash",
                leaf=LEAF,
                events=EVENTS,
            ),
            (tree.size, batch.after, batch.last),
        )
        nodes: list[tuple[int, int, Hash]] = []
        for _, leaf in sorted(batch.cur.fetchall()):
            made = tree.append(bytes(leaf))
            nodes.extend(node for node in made if node[0] >= STORED_FROM)
        batch.copy("merkle_nodes", ["level", "index", "hash"], nodes)
        self._kept = ((*where, batch.last), tree)

    @staticmethod
    def _frontier(batch: Batch) -> Frontier:
        """The tree so far: its stored peaks, then the leaves after them."""
        batch.cur.execute(batch.sql("SELECT coalesce(max(leaf_index) + 1, 0) FROM {merkle_leaves}"))
        row = batch.cur.fetchone()
        size = int(row[0]) if row else 0
        stored = [(level, index) for level, index in peaks(size) if level >= STORED_FROM]
        tail = size >> STORED_FROM << STORED_FROM
        batch.cur.execute(
            batch.sql(
                "SELECT level, index, hash FROM {merkle_nodes}"
                " WHERE (level, index) IN (SELECT * FROM unnest(%s::int[], %s::bigint[]))"
            ),
            ([level for level, _ in stored], [index for _, index in stored]),
        )
        found = {(int(level), int(index)): bytes(h) for level, index, h in batch.cur}
        tree = Frontier([(level, found[(level, index)]) for level, index in stored])
        batch.cur.execute(
            batch.sql(
                "SELECT hash FROM {merkle_leaves} WHERE leaf_index >= %s ORDER BY leaf_index"
            ),
            (tail,),
        )
        for (leaf,) in batch.cur.fetchall():
            tree.append(bytes(leaf))
        return tree
