"""`gridledger report` end to end: simulate a small district's month, project it, and
write its assessment report as HTML and PDF, whose figures are the database's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from typer.testing import CliRunner

from api.cli.main import app
from api.reports.render import PDF_PAGES
from tests.integration.test_simulate import drop_database, fresh_database

SEED = 11
PERIOD = ["--from", "2025-12-01", "--to", "2025-12-31"]
LOCAL_DECEMBER = (
    "reported_at >= '2025-12-01T00:00:00+08:00' AND reported_at < '2026-01-01T00:00:00+08:00'"
)


@pytest.fixture(scope="module")
def district(server_url: str, database_url: str) -> Iterator[str]:
    """A database holding one simulated month (December 2025) of a small district, with
    the query tables the report reads brought up to date."""
    name = str(conninfo_to_dict(database_url)["dbname"]) + "_report"
    url = fresh_database(server_url, name)
    runner = CliRunner()
    env = {"GRIDLEDGER_DATABASE_URL": url}
    try:
        made = runner.invoke(
            app, ["simulate", "--scale", "small", "--months", "1", "--seed", str(SEED)], env=env
        )
        assert made.exit_code == 0, made.output
        projected = runner.invoke(
            app,
            [
                "rebuild",
                "jurisdictions",
                "members",
                "tickets",
                "points",
                "assessments",
                "--workers",
                "1",
            ],
            env=env,
        )
        assert projected.exit_code == 0, projected.output
        yield url
    finally:
        drop_database(server_url, name)


def report(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["report", *args], env={"GRIDLEDGER_DATABASE_URL": url})
    return result.exit_code, result.output + (repr(result.exception) if result.exception else "")


def first(url: str, query: str) -> tuple:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()  # type: ignore[arg-type]  # a test query is a plain str
    assert row is not None
    return tuple(row)


def scalar(url: str, query: str) -> object:
    return first(url, query)[0]


def test_the_html_report_of_the_district_shows_its_figures(district: str, tmp_path: Path) -> None:
    code, name = first(district, "SELECT code, name FROM jurisdictions WHERE kind = 'district'")
    out = tmp_path / "district.html"
    exit_code, output = report(district, "--jurisdiction", code, *PERIOD, "--out", str(out))
    assert exit_code == 0, output
    assert f"wrote {out}" in output.replace("\n", "")
    html = out.read_text(encoding="utf-8")
    assert html.count("<svg") == 3
    assert name in html and "2025-12-01" in html and "2025-12-31" in html
    received = scalar(
        district, f"SELECT count(*) FROM tickets WHERE grid_path[1] = '{code}' AND {LOCAL_DECEMBER}"
    )
    assert isinstance(received, int) and received > 500
    headline = re.search(r"Tickets received.*?<td class=\"num\">([\d,]+)</td>", html, re.S)
    assert headline is not None and headline.group(1) == f"{received:,}"
    issued = scalar(
        district,
        "SELECT -sum(amount) FROM points_postings WHERE account_type = 'issuance'"
        " AND recorded_at < '2026-01-01T00:00:00+08:00'",
    )
    assert f">{issued:,}<" in html
    streets = scalar(district, f"SELECT count(*) FROM jurisdictions WHERE parent = '{code}'")
    assert isinstance(streets, int) and streets >= 1
    assert re.search(r"<td>2025-12</td>\s*<td class=\"num\">\d+\.\d%</td>", html)


def test_the_pdf_report_of_a_community_and_as_of_an_earlier_moment(
    district: str, tmp_path: Path
) -> None:
    community = scalar(district, "SELECT min(code) FROM jurisdictions WHERE kind = 'community'")
    assert isinstance(community, str)
    out = tmp_path / "community.pdf"
    exit_code, output = report(
        district, "--jurisdiction", community, *PERIOD, "--format", "pdf", "--out", str(out)
    )
    assert exit_code == 0, output
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == PDF_PAGES
    early = tmp_path / "early.html"
    args = ["--jurisdiction", community, *PERIOD, "--as-of", "2025-12-10T00:00:00", "--out"]
    assert report(district, *args, str(early))[0] == 0
    html = early.read_text(encoding="utf-8")
    before = scalar(
        district,
        f"SELECT count(*) FROM tickets WHERE grid_path @> ARRAY['{community}']"
        " AND reported_at >= '2025-12-01T00:00:00+08:00'"
        " AND reported_at <= '2025-12-10T00:00:00+08:00'",
    )
    assert isinstance(before, int)
    headline = re.search(r"Tickets received.*?<td class=\"num\">([\d,]+)</td>", html, re.S)
    assert headline is not None and headline.group(1) == f"{before:,}"
    assert "2025-12-10 00:00:00 +0800" in html


def test_bad_arguments_are_refused_and_write_nothing(district: str, tmp_path: Path) -> None:
    out = tmp_path / "x.html"
    for args, says in (
        (["--jurisdiction", "NOPE", *PERIOD], "no jurisdiction"),
        (["--jurisdiction", "X", "--from", "2025-12-31", "--to", "2025-12-01"], "before"),
        (["--jurisdiction", "X", "--from", "yesterday", "--to", "2025-12-01"], "YYYY-MM-DD"),
        (["--jurisdiction", "X", *PERIOD, "--format", "docx"], "html, pdf"),
        (["--jurisdiction", "X", *PERIOD, "--as-of", "soon"], "ISO 8601"),
    ):
        exit_code, output = report(district, *args, "--out", str(out))
        assert exit_code == 2, output
        assert says in output
        assert not out.exists()
