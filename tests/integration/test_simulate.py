"""`gridledger simulate`: synthetic activity through Governance, deterministic for a seed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import psycopg
import pytest
from eventsourcing.domain import DomainEvent
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from api.runtime.database import library_env, migrate
from api.simulation.simulate import SimClock, SimReport, simulate
from domain.activity import Activity
from domain.application import Governance
from domain.calendar import local_date
from domain.pledge import Pledge
from domain.points import PointsAccount
from domain.ticket import Ticket
from projections.engine import tracking

SEED = 7


@dataclass
class Run:
    url: str
    report: SimReport
    log: list[tuple[str, int]]  # (topic, originator_version) in global order
    clock: SimClock


def fresh_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    migrate(url)
    return url


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def simulate_tiny(url: str, seed: int, clock: SimClock | None = None) -> Run:
    clock = clock or SimClock()
    app = Governance(env=library_env(url), clock=clock)
    try:
        report = simulate(app, clock, "tiny", 1, seed, batch_size=200)
        notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
        log = [(n.topic, n.originator_version) for n in notifications]
    finally:
        app.close()
    return Run(url, report, log, clock)


@pytest.fixture(scope="module")
def runs(database_url: str, server_url: str) -> Iterator[tuple[Run, Run]]:
    """The tiny scale simulated twice with one seed, each in a fresh database."""
    base = str(conninfo_to_dict(database_url)["dbname"])
    names = [f"{base}_sim_a", f"{base}_sim_b"]
    first, second = (simulate_tiny(fresh_database(server_url, name), SEED) for name in names)
    yield first, second
    for name in names:
        drop_database(server_url, name)


def events_of(*aggregates: type) -> set[str]:
    return {
        f"{cls.__module__}:{cls.__qualname__}.{name}"
        for cls in aggregates
        for name, value in vars(cls).items()
        if isinstance(value, type)
        and issubclass(value, DomainEvent)
        and name not in ("Event", "Created")
    }


def test_a_seed_records_the_same_events_in_the_same_order(runs: tuple[Run, Run]) -> None:
    first, second = runs
    assert first.report.events == second.report.events == len(first.log) > 2000
    assert first.log == second.log
    assert first.report.commands == second.report.commands
    assert first.report.refused == second.report.refused


def test_another_seed_records_other_events(runs: tuple[Run, Run], server_url: str) -> None:
    first, _ = runs
    name = str(conninfo_to_dict(first.url)["dbname"]) + "_other"
    try:
        other = simulate_tiny(fresh_database(server_url, name), SEED + 1)
    finally:
        drop_database(server_url, name)
    assert other.log != first.log


def test_a_tiny_month_shows_every_kind_of_ticket_pledge_activity_and_points_event(
    runs: tuple[Run, Run],
) -> None:
    first, _ = runs
    recorded = {topic for topic, _ in first.log}
    expected = events_of(Ticket, Pledge, Activity, PointsAccount)
    assert len(expected) == 14 + 8 + 5 + 8
    assert expected - recorded == set()


def test_a_small_month_shows_them_too(database_url: str, server_url: str) -> None:
    name = str(conninfo_to_dict(database_url)["dbname"]) + "_sim_small"
    url = fresh_database(server_url, name)
    clock = SimClock()
    app = Governance(env=library_env(url), clock=clock)
    try:
        report = simulate(app, clock, "small", 1, SEED)
        recorded = {n.topic for n in app.recorder.select_notifications(start=1, limit=10**6)}
    finally:
        app.close()
        drop_database(server_url, name)
    assert 30_000 < report.events < 50_000
    assert report.sizes["members"] > 1_400
    assert sum(report.refused.values()) <= sum(report.commands.values()) // 200
    assert events_of(Ticket, Pledge, Activity, PointsAccount) - recorded == set()


def test_it_rarely_provokes_a_refusal(runs: tuple[Run, Run]) -> None:
    first, _ = runs
    accepted = sum(first.report.commands.values())
    assert sum(first.report.refused.values()) <= accepted // 200


def test_points_accounts_reconcile_with_their_ledgers(runs: tuple[Run, Run]) -> None:
    first, _ = runs
    app = Governance(env=library_env(first.url))
    try:
        opened = f"{PointsAccount.__module__}:PointsAccount.Opened"
        ids = [
            n.originator_id
            for n in app.recorder.select_notifications(start=1, limit=1_000_000)
            if n.topic == opened
        ]
        assert len(ids) > 20
        issued = held = spent = 0
        for account_id in ids:
            account = app.repository.get(account_id)
            assert isinstance(account, PointsAccount)
            ledger = [e for e in app.events.get(UUID(str(account_id))) if hasattr(e, "delta")]
            assert sum(e.delta for e in ledger) == account.balance
            assert ledger[-1].balance_after == account.balance
            assert account.balance == (
                account.earned - account.deducted - account.redeemed - account.expired
            )
            assert sum(account.lots.values()) == max(account.balance, 0)
            issued += account.earned
            held += account.balance
            spent += account.deducted + account.redeemed + account.expired
        assert issued == held + spent
        assert spent > 0
    finally:
        app.close()


def test_a_run_starts_where_the_clock_stands_and_leaves_it_at_the_end(
    runs: tuple[Run, Run],
) -> None:
    first, _ = runs
    assert first.report.start == date(2025, 12, 1)
    assert first.report.end == date(2026, 1, 1)
    # The year-end clearing ran in the first minutes of the new year; a next run would
    # start on the following day.
    assert local_date(first.clock()) == first.report.end


def test_a_seed_already_in_the_store_is_refused(runs: tuple[Run, Run]) -> None:
    first, _ = runs
    app = Governance(env=library_env(first.url), clock=first.clock)
    try:
        with pytest.raises(ValueError, match="already been simulated"):
            simulate(app, first.clock, "tiny", 1, SEED)
    finally:
        app.close()


def test_the_double_entry_postings_sum_to_zero_after_a_simulation(
    runs: tuple[Run, Run],
) -> None:
    from projections.engine.runner import Runner, Target
    from projections.views.points import PointsProjection

    run = runs[0]
    governance = Governance(env=library_env(run.url))
    runner = Runner(run.url, governance.mapper, [Target(PointsProjection())])
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()
        governance.close()
    with psycopg.connect(run.url) as conn:
        total, legs = conn.execute("SELECT sum(amount), count(*) FROM points_postings").fetchone()
        assert legs > 0
        assert total == 0
        for community, issued, held, spent in conn.execute(
            "SELECT community,"
            " -sum(amount) FILTER (WHERE account_type = 'issuance'),"
            " sum(amount) FILTER (WHERE account_type = 'member'),"
            " sum(amount) FILTER (WHERE account_type IN ('redeemed', 'expired', 'deducted'))"
            " FROM points_postings GROUP BY community"
        ).fetchall():
            assert issued == held + spent, community
        mismatched = conn.execute(
            "SELECT count(*) FROM points_balances b LEFT JOIN ("
            " SELECT member_id, community, sum(amount) AS held FROM points_postings"
            " WHERE account_type = 'member' GROUP BY member_id, community) p"
            " USING (member_id, community) WHERE b.balance <> coalesce(p.held, 0)"
        ).fetchone()[0]
        assert mismatched == 0


def test_row_by_row_and_staged_writes_build_identical_query_tables(
    runs: tuple[Run, Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upserts and updates of many rows go by COPY through staging tables, of few rows
    one statement per row: every table of every projection comes out the same either
    way, in small batches or in one."""
    from projections.engine import batch as engine
    from projections.engine.rebuild import checksums, rebuild_all
    from projections.registry import all_projections

    run = runs[1]
    projections = list(all_projections().values())
    governance = Governance(env=library_env(run.url))
    answers = []
    try:
        for stage_from, batch_size in ((1_000_000, 40), (2, 300), (2, 100_000)):
            monkeypatch.setattr(engine, "STAGE_FROM", stage_from)
            built = rebuild_all(run.url, governance.mapper, projections, batch_size=batch_size)
            with psycopg.connect(run.url) as conn:
                answers.append({p.name: checksums(conn, p, built[p.name]) for p in projections})
    finally:
        governance.close()
    assert len(run.log) > 1000
    assert answers[1] == answers[0]
    assert answers[2] == answers[0]


def test_a_rebuild_shared_out_among_worker_processes_builds_the_same_tables(
    runs: tuple[Run, Run],
) -> None:
    from projections.engine.rebuild import checksums, rebuild_all
    from projections.registry import all_projections

    run = runs[1]
    projections = list(all_projections().values())
    governance = Governance(env=library_env(run.url))
    answers = []
    seen: list[int] = []
    try:
        for workers in (1, 3):
            built = rebuild_all(
                run.url, governance.mapper, projections, workers=workers, progress=seen.append
            )
            with psycopg.connect(run.url) as conn:
                answers.append({p.name: checksums(conn, p, built[p.name]) for p in projections})
                states = {s.name: s for s in tracking.states(conn)}
    finally:
        governance.close()
    assert answers[1] == answers[0]
    head = len(run.log)
    assert {(s.status, s.position) for s in states.values()} == {("active", head)}
    assert seen[-1] == head
    assert all(count > 0 for tables in answers[0].values() for count, _ in tables.values())


def test_the_projections_fast_decoding_gives_the_librarys_events(runs: tuple[Run, Run]) -> None:
    from projections.engine.decoding import fast_mapper

    governance = Governance(env=library_env(runs[0].url))
    try:
        library = governance.mapper
        fast = fast_mapper(library)
        stored = governance.recorder.select_notifications(start=1, limit=1_000_000)
        assert len(stored) == len(runs[0].log)
        for notification in stored:
            expected = library.to_domain_event(notification)
            event = fast.to_domain_event(notification)
            assert type(event) is type(expected)
            assert vars(event) == vars(expected), notification.topic
    finally:
        governance.close()
