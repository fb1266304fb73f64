"""The dependency rules: domain never reaches for the web or the database; each room
imports only the rooms below it (the table `ALLOWED`); no module imports itself back
through others (no cycle). See ARCHITECTURE.md for the picture."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "domain"
OURS = ("domain", "projections", "api")
FORBIDDEN = ("fastapi", "starlette", "uvicorn", "psycopg", "psycopg_pool", "pydantic_settings")

DOMAIN_ROOMS = {"domain"}
STORE = {"projections.store"} | DOMAIN_ROOMS
ENGINE = {"projections.engine"} | STORE
VIEWS = {"projections.views"} | ENGINE
FEATURES = {"projections.audit", "projections.deadlines", "projections.analysis"}
PROJECTIONS = FEATURES | VIEWS | {"projections.registry"}
ALLOWED: dict[str, set[str]] = {
    # room: the rooms its modules may import (besides its own)
    "domain": set(),
    "projections": set(),
    "projections.store": DOMAIN_ROOMS,
    "projections.engine": STORE,
    "projections.views": ENGINE,
    "projections.audit": VIEWS,
    "projections.deadlines": VIEWS,
    "projections.analysis": VIEWS | {"projections.audit"},
    "projections.registry": VIEWS | FEATURES,
    "api": set(),
    # the api's rooms, in their declared order: each may import those before it
    "api.simulation": DOMAIN_ROOMS,
    "api.reports": PROJECTIONS,
    "api.runtime": PROJECTIONS,
    "api.http": PROJECTIONS | {"api.runtime"},
    "api.cli": PROJECTIONS | {"api.runtime", "api.http", "api.reports", "api.simulation"},
}
"""Nothing imports upward: the store and the engine import no feature module, the views
only the engine, the store and the domain; no projection imports the api."""


def modules() -> dict[str, Path]:
    """Every module of ours by its dotted name (a package by its own name)."""
    found = {}
    for top in OURS:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def imported(name: str) -> Iterator[tuple[int, str]]:
    """Each module of ours that module `name` imports (at the top or inside a
    function), with the line: `from a.b import c` names `a.b.c` if that is a module,
    else `a.b`."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]  # fmt: skip
        else:
            continue
        for target in targets:
            if target.split(".")[0] in OURS:
                while target not in MODULES and "." in target:
                    target = target.rpartition(".")[0]
                yield node.lineno, target


def room(name: str) -> str:
    """The room a module lives in: `domain`, or a package (or module) of `projections`
    or `api` (`projections.views`, `projections.registry`, `api.http`)."""
    parts = name.split(".")
    return "domain" if parts[0] == "domain" else ".".join(parts[:2])


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


def test_every_module_lives_in_a_room_of_the_table() -> None:
    assert len(MODULES) > 100
    assert sorted({room(m) for m in MODULES} - ALLOWED.keys()) == []


def test_each_room_imports_only_the_rooms_the_table_allows_it() -> None:
    offenders = [
        f"{name}:{line} imports {target}"
        for name in sorted(MODULES)
        for line, target in imported(name)
        if room(target) != room(name) and room(target) not in ALLOWED[room(name)]
    ]
    assert offenders == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, or of one that
    imports itself (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"d"}}
    assert cycles(graph) == [["a", "b", "c"], ["e"]]


def test_no_module_imports_itself_back_through_others() -> None:
    graph = {name: {t for _, t in imported(name) if t != name} for name in MODULES}
    assert cycles(graph) == []
