"""The fault suite's fixtures: a fresh database per test and real `gridledger` processes.

Every process is the real command line (`python -m api.cli.main ...`) started with
subprocess on the test's own database; a test kills them with a real SIGKILL, cuts
their connections with pg_terminate_backend or a NetCut port, and asserts counts.
Every process a test started is killed when it ends, whatever happened.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from projections.registry import all_projections
from tests.conftest import create_database, drop_database
from tests.faults.procs import Gridledger, caught_up, eventually
from tests.faults.world import World

_databases = itertools.count(1)


@pytest.fixture
def fault_url(server_url: str) -> Iterator[str]:
    """A fresh, migrated database of its own for one test."""
    name = f"gridledger_faults_{os.getpid()}_{next(_databases)}"
    yield create_database(server_url, name)
    drop_database(server_url, name)


@pytest.fixture
def gl(fault_url: str, tmp_path: Path) -> Iterator[Gridledger]:
    """The `gridledger` command line on the test's database; kills what it started."""
    cli = Gridledger(fault_url, tmp_path)
    try:
        yield cli
    finally:
        cli.kill_all()


@pytest.fixture
def world(gl: Gridledger) -> Iterator[World]:
    server = gl.serve()
    worker = gl.start("project")
    world = World(gl, server)
    count = len(all_projections())
    eventually("the projections to catch up", lambda: caught_up(gl.url, count))
    yield world
    gl.kill(worker)
