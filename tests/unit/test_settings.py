from __future__ import annotations

from datetime import timedelta

import pytest

from api.runtime.build import ticket_policy
from api.runtime.settings import Settings


def test_ticket_deadlines_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDLEDGER_RESPONSE_MINUTES", "30")
    monkeypatch.setenv("GRIDLEDGER_URGENT_RESOLUTION_HOURS", "12")
    monkeypatch.setenv(
        "GRIDLEDGER_RESOLUTION_HOURS_BY_CATEGORY", '{"安全隐患": {"normal": 24, "urgent": 4}}'
    )
    policy = ticket_policy(Settings())
    assert policy.response == timedelta(minutes=30)
    assert policy.resolution_for("环境卫生", "urgent") == timedelta(hours=12)
    assert policy.resolution_for("环境卫生", "normal") == timedelta(hours=72)
    assert policy.resolution_for("安全隐患", "urgent") == timedelta(hours=4)


def test_the_defaults_are_the_one_hour_response_and_three_days_to_resolve() -> None:
    policy = ticket_policy(Settings(_env_file=None))
    assert policy.response == timedelta(hours=1)
    assert policy.resolution_for("环境卫生", "normal") == timedelta(hours=72)
