"""Exports and reports on an existing dataset: the whole leaderboard and the longest
ledger as CSV and XLSX (through the same code as `?format=`), and the assessment report
of the district over its first year, HTML and PDF.

    GRIDLEDGER_BENCH_DATABASE_URL=postgresql://.../my_copy .venv/bin/python bench/exports.py

The database must hold the `jurisdictions`, `members`, `points` and `assessments` query
tables (e.g. `gridledger rebuild jurisdictions members points assessments` on a copy of
the shared dataset). It is only read. "peak memory" is the process's maximum resident
size so far (it only rises, so it bounds each step from above).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import anyio
import psycopg
from psycopg import sql

sys.path[0] = str(Path(__file__).resolve().parents[1])  # not bench/: bench/http.py shadows http

from api.http.auth import Principal  # noqa: E402
from api.http.exports import Export, Format  # noqa: E402
from api.http.routes.points import board_file, ledger_file  # noqa: E402
from api.http.schemas.points import LEADERBOARD_COLUMNS, LEDGER_COLUMNS  # noqa: E402
from api.http.visibility import Viewer  # noqa: E402
from api.reports.data import assemble  # noqa: E402
from api.reports.render import render_html, render_pdf  # noqa: E402
from bench._db import server_url  # noqa: E402
from projections.views import points  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def drain(response: Any) -> int:
    """Read a StreamingResponse's body as the server would send it; its size."""

    async def read() -> int:
        size = 0
        async for chunk in response.body_iterator:
            size += len(chunk)
        return size

    return anyio.run(read)


def timed(label: str, make: Callable[[], int]) -> None:
    started = time.perf_counter()
    size = make()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.2f}s, {size:,} bytes, peak RSS {peak_mib():,.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="start", default="2026-01-01")
    parser.add_argument("--to", dest="end", default="2026-12-31")
    args = parser.parse_args()
    url = server_url()
    admin = Viewer(Principal(sub="bench", role="admin", scope="*"))
    with psycopg.connect(url, autocommit=True) as conn:
        district = conn.execute(
            "SELECT code FROM jurisdictions WHERE kind = 'district' ORDER BY code LIMIT 1"
        ).fetchone()
        assert district is not None, "no district: are the query tables built?"
        code = district[0]
        board, params = points.board(admin.reach, code, None, None)
        members = conn.execute(
            sql.SQL("SELECT count(*) FROM ({}) AS b").format(board), params
        ).fetchone()
        longest = conn.execute(
            "SELECT member_id, count(*) FROM points_ledger GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
        assert members is not None and longest is not None
        print(f"district {code}: leaderboard of {members[0]:,} members;"
              f" longest ledger {longest[1]:,} entries")  # fmt: skip
        for fmt in (Format.CSV, Format.XLSX):
            export = Export("board", "Board", LEADERBOARD_COLUMNS, "bench", "0")
            timed(
                f"leaderboard {fmt.value}",
                lambda: drain(board_file(conn, board, params, export, fmt)),  # noqa: B023
            )
        for fmt in (Format.CSV, Format.XLSX):
            export = Export("ledger", "Ledger", LEDGER_COLUMNS, "bench", "0")
            clauses: list[sql.Composable] = [sql.SQL("member_id = %s")]
            timed(
                f"ledger {fmt.value}",
                lambda: drain(ledger_file(conn, clauses, [longest[0]], export, fmt)),  # noqa: B023
            )
        first, last = date.fromisoformat(args.start), date.fromisoformat(args.end)
        started = time.perf_counter()
        data = assemble(conn, code, first, last, None)
        print(f"report data of {code} {first}..{last}: {time.perf_counter() - started:.2f}s")
    timed("report html", lambda: len(render_html(data).encode()))
    timed("report pdf", lambda: len(render_pdf(data)))


if __name__ == "__main__":
    main()
