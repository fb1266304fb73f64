"""Bad input against a real `gridledger serve`: schemathesis, stateful, from the served
/openapi.json, with every role's token; then the hostile cases of issue 15 by hand.
Every answer is below 500 (a 503 only where the database or the projections are not
there yet, with Retry-After), and a refused command records no event (the log's head
is where it was before the command)."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.generation.stateful.state_machine import APIStateMachine

from api.http.auth import ROLES
from tests.faults.procs import Gridledger, Server, head

SCENARIOS = 10
"""Scenarios per role (each a few steps): modest, so that the suite runs in minutes."""
STEPS = 5
PER_OPERATION = 6
SETTINGS = hypothesis.settings(
    max_examples=PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,  # the same cases every run: a failure is repeatable
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
COMMANDS = ("POST", "PUT", "PATCH", "DELETE")


class World:
    """The server, a small district in it, a token per role, and what was answered."""

    def __init__(self, gl: Gridledger, server: Server) -> None:
        self.gl = gl
        self.server = server
        self.statuses: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()
        self.refused_with_events: list[str] = []
        self.server_errors: list[str] = []
        admin = gl.token("admin", "admin-1", "*")
        with server.client() as client:
            for code, kind, parent in (
                ("HG", "district", None),
                ("HG-WH", "street", "HG"),
                ("HG-WH-BH", "community", "HG-WH"),
                ("HG-WH-BH-01", "grid", "HG-WH-BH"),
            ):
                body = {"code": code, "kind": kind, "name": f"{code}区", "parent": parent}
                answer = client.post(
                    "/v1/jurisdictions", json=body, headers={"Authorization": f"Bearer {admin}"}
                )
                assert answer.status_code == 201, answer.text
            member = client.post(
                "/v1/members",
                json={"name": "居民", "phone": "13800138000", "kind": "resident",
                      "home_grid": "HG-WH-BH-01"},
                headers={"Authorization": f"Bearer {admin}"},
            )  # fmt: skip
            assert member.status_code == 201, member.text
        who = {
            "admin": ("admin-1", "*"),
            "street_staff": ("street-1", "HG-WH"),
            "department_staff": ("department-1", "HG"),
            "community_staff": ("staff-1", "HG-WH-BH"),
            "grid_worker": ("worker-1", "HG-WH-BH-01"),
            "resident": (member.json()["id"], "HG-WH-BH"),
            "auditor": ("auditor-1", "HG"),
            "evaluator": ("evaluator-1", "HG"),
        }
        assert set(who) == set(ROLES)
        self.schema = schemathesis.openapi.from_url(f"{server.base}/openapi.json")
        self.tokens = {role: gl.token(role, sub, scope) for role, (sub, scope) in who.items()}

    def judge(self, role: str, case: Any, response: Any, before: int) -> None:
        """Count the answer; note a 5xx (but an honest 503) and a refusal that recorded."""
        what = f"{role} {case.method} {case.formatted_path} -> {response.status_code}"
        self.statuses[f"{response.status_code}"] += 1
        self.seen[f"{case.method} {case.operation.path}"] += 1
        if response.status_code >= 500 and not _honest_503(response):
            self.server_errors.append(f"{what}: {response.text[:300]}")
        refused = case.method.upper() in COMMANDS and response.status_code >= 400
        if refused and head(self.gl.url) != before:
            self.refused_with_events.append(what)

    def call(self, role: str, case: Any) -> None:
        before = head(self.gl.url)
        response = case.call(**self.kwargs(role))
        self.judge(role, case, response, before)

    def kwargs(self, role: str) -> dict[str, Any]:
        return {
            "headers": {"Authorization": f"Bearer {self.tokens[role]}"},
            "base_url": self.server.base,
            "timeout": 30,
        }


@pytest.fixture
def world(gl: Gridledger) -> Iterator[World]:
    server = gl.serve()
    worker = gl.start("project")
    yield World(gl, server)
    gl.kill(worker)


def _machine(world: World, role: str) -> type[APIStateMachine]:
    base = world.schema.as_state_machine()

    class Hostile(base):  # type: ignore[valid-type,misc]
        before: ClassVar[int] = 0

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return world.kwargs(role)

        def before_call(self, case: Any) -> None:
            Hostile.before = head(world.gl.url)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            world.judge(role, case, response, Hostile.before)

    return Hostile


def _honest_503(response: Any) -> bool:
    """A 503 that says when to come back: the projections behind a `min_position`."""
    return response.status_code == 503 and "retry-after" in {k.lower() for k in response.headers}


def test_schemathesis_stateful_with_every_role_finds_no_5xx_and_no_event_from_a_refusal(
    world: World,
) -> None:
    settings = hypothesis.settings(SETTINGS, max_examples=SCENARIOS, stateful_step_count=STEPS)
    for role in ROLES:
        _machine(world, role).run(settings=settings)
    print(
        f"\nschemathesis stateful, {len(ROLES)} roles x {SCENARIOS} scenarios of up to"
        f" {STEPS} steps: answers {dict(sorted(world.statuses.items()))};"
        f" 5xx {len(world.server_errors)}; refused commands that recorded an event"
        f" {len(world.refused_with_events)}"
    )
    assert world.server_errors == []
    assert world.refused_with_events == []
    assert sum(world.statuses.values()) >= len(ROLES) * SCENARIOS


def test_every_operation_with_generated_and_invalid_input_by_every_role_finds_no_5xx(
    world: World,
) -> None:
    """Stateless, to reach every operation: positive and negative (schema-violating)
    cases of each, the roles taking turns."""
    turn = itertools.cycle(ROLES)
    operations = [result.ok() for result in world.schema.get_all_operations()]
    for operation in operations:
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @hypothesis.given(case=strategy)
        @SETTINGS
        def check(case: Any) -> None:
            world.call(next(turn), case)

        check()
    print(
        f"\nschemathesis stateless, {len(operations)} operations x {PER_OPERATION} cases,"
        f" the roles in turn: answers {dict(sorted(world.statuses.items()))};"
        f" 5xx {len(world.server_errors)}; refused commands that recorded an event"
        f" {len(world.refused_with_events)}"
    )
    assert world.server_errors == []
    assert world.refused_with_events == []
    assert len(world.seen) == len(operations)
