"""The dependency rule: domain never reaches for the web or the database."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
FORBIDDEN = ("fastapi", "starlette", "uvicorn", "psycopg", "psycopg_pool", "pydantic_settings")


def test_importing_the_domain_loads_no_web_or_database_module() -> None:
    code = (
        "import sys, domain.application, domain.errors\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=DOMAIN.parent,
    )
    assert out.stdout.strip() == ""


def test_no_domain_module_names_a_web_or_database_package() -> None:
    offenders = []
    paths = list(DOMAIN.rglob("*.py"))
    assert paths
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
