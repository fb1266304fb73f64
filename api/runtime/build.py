"""Building the process's long-lived objects from settings (the composition root)."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from psycopg_pool import PoolTimeout

from api.runtime.database import library_env, resolve_url
from api.runtime.settings import Settings
from api.runtime.signing import personal_data_master_key
from domain.application import Governance
from domain.context import Clock, system_clock
from domain.personal_data import PersonalData
from domain.ticket_policy import TicketPolicy
from projections.store import keys


def database_url(settings: Settings) -> str:
    return resolve_url(settings.database_url, settings.data_dir)


def ticket_policy(settings: Settings) -> TicketPolicy:
    return TicketPolicy(
        response=timedelta(minutes=settings.response_minutes),
        normal_resolution=timedelta(hours=settings.normal_resolution_hours),
        urgent_resolution=timedelta(hours=settings.urgent_resolution_hours),
        by_category={
            category: {priority: timedelta(hours=h) for priority, h in windows.items()}
            for category, windows in settings.resolution_hours_by_category.items()
        },
    )


def build_governance(settings: Settings, url: str, *, clock: Clock = system_clock) -> Governance:
    env = library_env(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        timeout=settings.database_timeout,
    )
    ring = keys.configure(personal_data_master_key(settings))
    store = keys.PostgresKeyStore(url, ring, timeout=settings.database_timeout)
    try:
        store.check()  # another master key than the stored keys': refuse to start
    except (psycopg.errors.UndefinedTable, psycopg.OperationalError, PoolTimeout):
        pass  # not migrated or not reachable yet: said elsewhere (503s, `migrate`)
    except keys.KeyUnavailableError:
        store.close()
        raise
    return Governance(
        env=env,
        clock=clock,
        ticket_policy=ticket_policy(settings),
        personal=PersonalData(store),
    )
