"""Building the process's long-lived objects from settings (the composition root)."""

from __future__ import annotations

from api.database import library_env, resolve_url
from api.settings import Settings
from domain.application import Governance
from domain.context import Clock, system_clock


def database_url(settings: Settings) -> str:
    return resolve_url(settings.database_url, settings.data_dir)


def build_governance(settings: Settings, url: str, *, clock: Clock = system_clock) -> Governance:
    env = library_env(url, pool_size=settings.pool_size, max_overflow=settings.pool_max_overflow)
    return Governance(env=env, clock=clock)
