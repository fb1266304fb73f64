"""Bad input against a real `gridledger serve`: schemathesis, stateful, from the served
/openapi.json, with every role's token (the hostile cases of issue 15 by hand are in
test_abuse.py).
Every answer is below 500 (a 503 only where the database or the projections are not
there yet, with Retry-After), and a refused command records no event (the log's head
is where it was before the command)."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import hypothesis
from schemathesis import GenerationMode
from schemathesis.generation.stateful.state_machine import APIStateMachine

from api.http.auth import ROLES
from tests.faults.procs import head
from tests.faults.world import World

SCENARIOS = 6
"""Scenarios per role (each a few steps): modest, so that the suite runs in minutes."""
STEPS = 5
PER_OPERATION = 4
SETTINGS = hypothesis.settings(
    max_examples=PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,  # the same cases every run: a failure is repeatable
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
COMMANDS = ("POST", "PUT", "PATCH", "DELETE")


def _machine(world: World, role: str) -> type[APIStateMachine]:
    base = world.schema.as_state_machine()

    class Hostile(base):  # type: ignore[valid-type,misc]
        before: ClassVar[int] = 0

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return world.kwargs(role)

        def before_call(self, case: Any) -> None:
            Hostile.before = head(world.gl.url)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            world.judge_case(role, case, response, Hostile.before)

    return Hostile


def test_schemathesis_stateful_with_every_role_finds_no_5xx_and_no_event_from_a_refusal(
    world: World,
) -> None:
    settings = hypothesis.settings(SETTINGS, max_examples=SCENARIOS, stateful_step_count=STEPS)
    for role in ROLES:
        _machine(world, role).run(settings=settings)
    world.report(f"stateful, {len(ROLES)} roles x {SCENARIOS} scenarios of up to {STEPS} steps")
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
    world.report(f"stateless, {len(operations)} operations x {PER_OPERATION} cases, roles in turn")
    assert len(world.seen) == len(operations)
