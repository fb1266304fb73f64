"""An idempotency key's fingerprint is taken over the command's arguments by the
`command` decorator; the fingerprints must stay what the hand-typed argument lists of
the earlier code made, or keys recorded before would be refused (422) on a retry."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from domain.application import Governance
from domain.commands.base import KEYED, Meta, _fingerprint
from domain.context import acting
from domain.idempotency import IdempotencyRecord

pytestmark = pytest.mark.integration

# Each request, and its fingerprint as the code with hand-typed argument dicts made it.
REQUESTS: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = [
    (
        "define_jurisdiction",
        (),
        {"code": "HG-WH-XY", "kind": "community", "name": "新苑社区", "parent": "HG-WH"},
        "4d6bd2367ab9e40c69b396ad6a6331ae93ecc2ccb53a355479f45aa44384f421",
    ),
    (
        "register_organisation",
        (),
        {"name": "海港区文化馆"},
        "f9adfdc3a7336b76c718ff99f3dfa624a70f03da0b9132cec4175813bc641e22",
    ),
    (
        "report_ticket",
        (),
        {
            "category": "环境卫生",
            "description": "楼道堆物",
            "grid": "HG-WH-BH-01",
            "source": "hotline",
            "location": {"address": "北环路 3 号", "lat": 39.93, "lon": 119.6},
        },
        "9c6cbe29c29812093b20c7a73c0e91210e6d4082bf7820d7fc59cf89bf3ec9d6",
    ),
    (
        "put_rule",
        ("HG-WH-BH", "DEED"),
        {
            "description": "好人好事",
            "points": 5,
            "kind": "award",
            "caps": {"per_day": 10},
            "requires_approval": True,
            "trigger": "manual",
        },
        "a6a1e9ff7c599cbdfbfe436dd0f91d64c3eeb5b5f8659eb152b7049e4c2a945b",
    ),
]


@pytest.mark.parametrize(("command", "args", "kwargs", "before"), REQUESTS)
def test_a_keyed_request_keeps_the_fingerprint_the_earlier_code_gave_it(
    governance: Governance,
    admin: Meta,
    tree: dict[str, str],
    command: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    before: str,
) -> None:
    keyed = replace(admin, idempotency_key=f"key-{command}")
    first = getattr(governance, command)(keyed, *args, **kwargs)
    record = governance._find(
        IdempotencyRecord, IdempotencyRecord.id_for(admin.actor.id, keyed.idempotency_key)
    )
    assert record is not None
    # Since the privacy review a record holds an HMAC under the server's secret (a plain
    # hash of a registration confirmed a guessed name and phone), so the plain digest
    # is checked as a record saved before holds it: it still answers its own request.
    assert record.fingerprint.startswith(KEYED)
    again = getattr(governance, command)(keyed, *args, **kwargs)
    assert (again.id, again.version) == (first.id, first.version)
    earlier = replace(admin, idempotency_key=f"earlier-{command}")
    with acting(earlier.actor, now=governance.clock()):
        saved_before = IdempotencyRecord._create(
            IdempotencyRecord.Used,
            id=IdempotencyRecord.id_for(admin.actor.id, str(earlier.idempotency_key)),
            actor_id=admin.actor.id,
            key=str(earlier.idempotency_key),
            fingerprint=before,
            result_id=first.id,
            result_version=first.version,
            extra=dict(record.extra),
        )
    governance.save(saved_before)
    answered = getattr(governance, command)(earlier, *args, **kwargs)  # no 422: it matched
    assert (answered.id, answered.version) == (first.id, first.version)


def test_the_values_the_earlier_code_turned_into_text_fingerprint_the_same() -> None:
    """award_points and the other points commands typed `str(member_id)`,
    `str(entry_id)` and `str(before)`; the arguments as given fingerprint the same."""
    member = UUID("12345678-1234-5678-1234-567812345678")
    as_typed = {"member_id": str(member), "community": "C", "before": str(date(2026, 1, 1))}
    as_given = {"member_id": member, "community": "C", "before": date(2026, 1, 1)}
    assert _fingerprint("expire_points", as_typed) == _fingerprint("expire_points", as_given)
