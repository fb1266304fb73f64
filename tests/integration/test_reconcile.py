"""Reconciling the points ledger: a clean ledger reconciles; each injected inconsistency
is caught and named; each anomaly is found on a case built for it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from typer.testing import CliRunner

from api.cli.ledger import parse_as_of
from api.cli.main import app
from api.runtime.database import library_env
from api.simulation.simulate import SimClock, simulate
from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor, acting
from domain.points import PointsAccount, _entry_fields
from domain.points_entry import EntryKey, EntryKind, EntryStatus
from projections.analysis.reconcile import Options, Report, reconcile
from projections.analysis.trial_balance import trial_balance
from projections.engine.runner import Runner, Target
from projections.views.jurisdictions import Jurisdictions
from projections.views.points import PointsProjection, PointsRulesProjection
from tests.fakes import FakeClock
from tests.integration.test_projection_points import (
    CHECKER,
    STAFF,
    START,
    award,
    mixed_history,
    put,
)
from tests.integration.test_projection_points import people as people_fixture
from tests.integration.test_simulate import drop_database, fresh_database

BH, NS = "HG-WH-BH", "HG-WH-NS"
people = people_fixture  # two residents of 北环
POINTS = (PointsProjection(), PointsRulesProjection())


def run(db: psycopg.Connection, **options: Any) -> Report:
    return reconcile(db, Options(**options))


@pytest.fixture
def history(governance: Governance, admin: Meta, clock: FakeClock, tree, people, project):
    ids = mixed_history(governance, admin, clock, tree, people)
    project(*POINTS)
    return ids


def bypass(
    gov: Governance, clock: FakeClock, actor: str, member: UUID, community: str,
    act: Callable[[PointsAccount], list[EntryKey]],
) -> None:  # fmt: skip
    """Record what `act` does to the member's account as `actor`, skipping every check
    of the commands (as a faulty or hostile writer would), through the application."""
    with acting(Actor(actor, "community_staff"), now=clock.now):
        account = gov._account(member, community)
        keys = act(account)
        gov.save(account, *keys)


def raw_award(gov: Governance, community: str, code: str, points: int, by: str) -> Callable:
    rule = gov.rulebook(community).rule(code)

    def act(account: PointsAccount) -> list[EntryKey]:
        source = {"kind": "photo", "id": str(uuid4())}
        return [account._award(rule, source, points, 1, None, by, clipped_from=None)]

    return act


def raw_approval(gov: Governance, entry_id: UUID, by: str) -> Callable:
    key = gov.entry(entry_id)

    def act(account: PointsAccount) -> list[EntryKey]:
        entry = account.pending_awards[str(key.id)]
        on = account._today()
        account.trigger_event(
            PointsAccount.AwardApproved,
            **_entry_fields(entry, key.id, EntryKind.AWARD, on),
            delta=entry["points"],
            balance_after=account.balance + entry["points"],
            approved_by=by,
        )
        key.approve(approved_by=by, on=on)
        return [key]

    return act


def raw_redemption(points: int) -> Callable:
    def act(account: PointsAccount) -> list[EntryKey]:
        fields = account._entry(
            EntryKind.REDEMPTION, points, -points, {"kind": "item", "id": "电饭煲"}
        )
        account.trigger_event(PointsAccount.Redeemed, **fields, item="电饭煲")
        return [account._key(fields, EntryStatus.POSTED)]

    return act


# --- a clean ledger ---


def test_a_clean_ledger_reconciles_with_no_anomaly(history, db) -> None:
    report = run(db)
    assert report.consistent, report.findings
    # its deductions name tickets "t-1" and "t-2", which were never reported
    assert [(a.kind, a.detail) for a in report.anomalies] == [
        ("invalid_source", "source ticket t-1 is no id"),
        ("invalid_source", "source ticket t-2 is no id"),
    ]
    assert report.counts == {"entries": 18, "accounts": 3, "postings": 28, "communities": 2}
    assert run(db, communities=[NS]).counts["entries"] == 1
    assert run(db, as_of=START + timedelta(hours=3)).counts["entries"] == 7  # the first day


@pytest.fixture(scope="module")
def simulated(database_url: str, server_url: str) -> Iterator[str]:
    """Two simulated months of the tiny scale (across a year end: expiries), projected."""
    name = str(conninfo_to_dict(database_url)["dbname"]) + "_ledger"
    url = fresh_database(server_url, name)
    clock = SimClock(date(2025, 12, 1))
    app = Governance(env=library_env(url), clock=clock)
    try:
        simulate(app, clock, "tiny", 2, 11, batch_size=200)
        runner = Runner(url, app.mapper, [Target(p) for p in POINTS])
        runner.run_until_caught_up()
        runner.close()
    finally:
        app.close()
    yield url
    drop_database(server_url, name)


def test_a_simulated_district_reconciles_and_its_trial_balance_is_zero(simulated: str) -> None:
    with psycopg.connect(simulated, autocommit=True) as db:
        report = run(db)
        assert report.consistent, report.findings[:5]
        assert report.counts["entries"] > 100
        kinds = {row[0] for row in db.execute("SELECT DISTINCT kind FROM points_ledger")}
        assert {"award", "approval", "deduction", "redemption", "expiry"} <= kinds
        tb = trial_balance(db)
        assert {a.account_type for a in tb.accounts} == {
            "issuance", "member", "redeemed", "expired", "deducted"}  # fmt: skip
        assert tb.balance == 0 and tb.debits == tb.credits > 0
        assert all(c.balanced for c in tb.communities)
        (held,) = db.execute("SELECT sum(balance) FROM points_balances").fetchone() or (0,)
        assert sum(c.held for c in tb.communities) == held
        midway = trial_balance(db, as_of=SimClock(date(2026, 1, 1)).now)
        assert midway.balance == 0 and midway.postings < tb.postings


# --- inconsistencies, injected into the query tables or the store ---


def test_a_balance_off_by_one_is_named(history, people, db) -> None:
    alice = people["alice"]
    db.execute(
        "UPDATE points_balances SET balance = balance + 1 WHERE member_id = %s AND community = %s",
        (alice, BH),
    )
    report = run(db)
    (finding,) = report.findings
    assert (finding.check, finding.subject) == ("balance", f"member:{alice}:{BH}")
    assert "balance=16" in finding.detail and "fold to: balance=15" in finding.detail
    assert "balance <> earned - deducted" in finding.detail
    assert run(db, communities=[NS]).consistent  # the other community is in order
    assert run(db, as_of=START + timedelta(days=9)).consistent  # as of: the ledger alone


def test_a_missing_ledger_row_breaks_the_fold_the_community_and_the_trace(
    history, people, db
) -> None:
    (position,) = db.execute(
        "SELECT position FROM points_ledger WHERE entry_id = %s AND kind = 'redemption'",
        (history["redemption"],),
    ).fetchone()
    db.execute("DELETE FROM points_ledger WHERE position = %s", (position,))
    report = run(db)
    assert {f.check for f in report.findings} == {"balance", "community", "postings", "trace"}
    (trace,) = report.failures("trace")
    assert trace.position == position and "with no ledger row" in trace.detail
    running = report.failures("balance")[0]
    assert running.subject == f"member:{people['alice']}:{BH}"
    assert "running balance" in running.detail
    assert not report.consistent


def test_a_changed_posting_is_named_and_unbalances_its_community(history, db) -> None:
    (posting,) = db.execute(
        "SELECT posting_id FROM points_postings WHERE entry_id = %s AND leg = 2",
        (history["vol"],),
    ).fetchone()
    db.execute("UPDATE points_postings SET amount = 21 WHERE posting_id = %s", (posting,))
    report = run(db)
    assert {f.check for f in report.findings} == {"community", "postings"}
    changed = [f for f in report.failures("postings") if f.subject == f"posting {posting}"]
    assert len(changed) == 1 and "posts 21" in changed[0].detail
    assert "makes 20" in changed[0].detail
    sums = {(f.subject, f.detail) for f in report.failures("postings") if f.position is None}
    assert sums == {(f"community:{BH}", "postings sum to 1, not zero"),
                    ("all postings", "postings sum to 1, not zero")}  # fmt: skip
    (community,) = report.failures("community")
    assert community.community == BH and "issued 38, held 18" in community.detail


def test_a_ledger_row_that_differs_from_its_event_is_named(history, db) -> None:
    db.execute(
        "UPDATE points_ledger SET awarded_by = 'someone-else' WHERE entry_id = %s",
        (history["vol"],),
    )
    (finding,) = run(db).findings
    assert finding.check == "trace" and finding.detail == "differs from its event in awarded_by"


def test_a_deleted_event_leaves_its_entry_without_a_source(
    history, governance: Governance, database_url: str, db
) -> None:
    (position,) = db.execute(
        "SELECT position FROM points_ledger WHERE entry_id = %s", (history["ns_vol"],)
    ).fetchone()
    db.execute("DELETE FROM governance_events WHERE notification_id = %s", (position,))
    (finding,) = run(db).findings
    assert (finding.check, finding.position, finding.community) == ("trace", position, NS)
    assert finding.detail == "no event in the store at its position"


def test_an_entry_under_a_rule_version_that_does_not_exist_is_named(history, db) -> None:
    db.execute("DELETE FROM points_rules WHERE community = %s AND rule_code = 'LITTER'", (BH,))
    findings = run(db).findings
    assert {f.check for f in findings} == {"rule"}
    # the deduction of alice (and its reversal) and bob's deduction
    assert len(findings) == 3
    assert all("rule LITTER version 1 is not in the rulebook" in f.detail for f in findings)


def test_an_award_under_a_retiring_version_is_named(history, db) -> None:
    db.execute(
        "UPDATE points_rules SET in_force = false WHERE community = %s AND rule_code = 'VOL'",
        (NS,),
    )
    (finding,) = run(db).findings
    assert finding.check == "rule" and "retires the rule" in finding.detail


# --- anomalies, on cases built for each ---


def anomalies_of(db: psycopg.Connection, kind: str, **options: Any) -> list[Any]:
    report = run(db, **options)
    assert report.consistent, report.findings  # anomalies are no inconsistencies
    return [a for a in report.anomalies if a.kind == kind]


def test_a_self_award_is_an_anomaly(
    governance: Governance, clock: FakeClock, tree, people, project, db
) -> None:
    alice = people["alice"]
    put(governance, BH, "VOL")
    bypass(
        governance, clock, str(alice), alice, BH, raw_award(governance, BH, "VOL", 5, str(alice))
    )
    project(*POINTS)
    (anomaly,) = anomalies_of(db, "self_award")
    assert anomaly.actor == str(alice) and "awarded 5 points to themselves" in anomaly.detail
    assert len(run(db).anomalies) == 1


def test_approvals_by_the_awarder_or_by_the_member_are_anomalies(
    governance: Governance, clock: FakeClock, tree, people, project, db
) -> None:
    alice, bob = people["alice"], people["bob"]
    put(governance, BH, "CHECKED", points=10, requires_approval=True)
    mine = award(governance, alice, BH, "CHECKED", "p1")
    theirs = award(governance, bob, BH, "CHECKED", "p2")
    bypass(governance, clock, "staff-1", alice, BH, raw_approval(governance, mine, "staff-1"))
    bypass(governance, clock, str(bob), bob, BH, raw_approval(governance, theirs, str(bob)))
    project(*POINTS)
    (by_awarder,) = anomalies_of(db, "approval_by_awarder")
    assert by_awarder.actor == "staff-1" and by_awarder.subject.startswith(f"entry {mine}")
    (by_member,) = anomalies_of(db, "self_approval")
    assert by_member.actor == str(bob)


def test_awards_past_a_cap_are_anomalies_counted_per_local_period(
    governance: Governance, clock: FakeClock, tree, people, project, db
) -> None:
    alice = people["alice"]
    put(governance, BH, "VOL", caps={"per_day": 10, "per_month": 25})
    award(governance, alice, BH, "VOL", "p1")
    reversed_ = award(governance, alice, BH, "VOL", "p2")
    governance.reverse_entry(CHECKER, reversed_, reason="重复")  # frees its 5 points
    award(governance, alice, BH, "VOL", "p3")  # 10 counted today: the cap, not past it
    bypass(governance, clock, "staff-1", alice, BH, raw_award(governance, BH, "VOL", 5, "s-1"))
    clock.advance(days=1)  # a new local day: 5 more are within the day's cap
    bypass(governance, clock, "staff-1", alice, BH, raw_award(governance, BH, "VOL", 5, "s-1"))
    bypass(governance, clock, "staff-1", alice, BH, raw_award(governance, BH, "VOL", 9, "s-1"))
    project(*POINTS)
    first, second = anomalies_of(db, "cap_exceeded")
    assert first.detail.endswith("per_day=10 in 2026-03-02 (15 counted)")
    assert "per_day=10 in 2026-03-03 (14 counted)" in second.detail
    assert "per_month=25 in 2026-03 (29 counted)" in second.detail


def test_awards_whose_source_is_missing_or_of_another_kind_are_anomalies(
    governance: Governance, admin: Meta, clock: FakeClock, tree, people, project, db
) -> None:
    alice = people["alice"]
    put(governance, BH, "VOL")
    ticket = governance.report_ticket(
        admin, category="环境卫生", description="楼道堆物", grid=tree["grid"], source="hotline"
    ).id
    missing = uuid4()
    for kind, source in [("ticket", ticket), ("activity", ticket), ("pledge", missing),
                         ("activity", "not-an-id"), ("photo", "anything")]:  # fmt: skip
        governance.award_points(
            STAFF, member_id=alice, community=BH, rule_code="VOL",
            source_kind=kind, source_id=str(source),
        )  # fmt: skip
    project(*POINTS)
    found = anomalies_of(db, "invalid_source")
    assert [a.detail for a in found] == [
        f"source activity {ticket} is a domain.ticket:Ticket",
        f"source pledge {missing} does not exist",
        "source activity not-an-id is no id",
    ]


def test_a_redemption_beyond_the_balance_is_an_anomaly(
    governance: Governance, clock: FakeClock, tree, people, project, db
) -> None:
    alice = people["alice"]
    put(governance, BH, "VOL")
    award(governance, alice, BH, "VOL", "p1")
    bypass(governance, clock, "staff-1", alice, BH, raw_redemption(8))
    project(*POINTS)
    (anomaly,) = anomalies_of(db, "redemption_beyond_balance")
    assert anomaly.detail == f"member {alice} redeemed 8 points (电饭煲) with a balance of 5"


def test_an_award_under_a_superseded_rule_version_is_an_anomaly(
    governance: Governance, clock: FakeClock, tree, people, project, db
) -> None:
    alice = people["alice"]
    put(governance, BH, "VOL")
    stale = raw_award(governance, BH, "VOL", 5, "staff-1")  # holds version 1
    put(governance, BH, "VOL", points=6)
    bypass(governance, clock, "staff-1", alice, BH, stale)  # a writer racing the new version
    project(*POINTS)
    (anomaly,) = anomalies_of(db, "rule_not_in_force")
    assert "rule VOL version 1" in anomaly.detail and "to position" in anomaly.detail


def test_bursts_of_awards_by_one_actor_are_anomalies_with_a_threshold(
    governance: Governance, clock: FakeClock, tree, people, project, db
) -> None:
    alice, bob = people["alice"], people["bob"]
    put(governance, BH, "VOL")
    for n in range(4):  # four awards in three minutes
        award(governance, alice if n % 2 else bob, BH, "VOL", f"burst-{n}")
        clock.advance(minutes=1)
    clock.advance(hours=1)
    for n in range(4):  # four awards, twenty minutes apart: no burst
        award(governance, alice, BH, "VOL", f"slow-{n}")
        clock.advance(minutes=20)
    project(*POINTS)
    (burst,) = anomalies_of(db, "award_burst", burst_awards=3, burst_minutes=10)
    as_json = json.loads(json.dumps(run(db, burst_awards=3, burst_minutes=10).as_json()))
    (shown,) = [a for a in as_json["anomalies"] if a["kind"] == "award_burst"]
    assert shown["ends_at"] == burst.ends_at.isoformat()
    assert burst.actor == "staff-1" and burst.community == BH
    assert "made up to 4 awards within 10 minutes (more than 3)" in burst.detail
    assert anomalies_of(db, "award_burst", burst_awards=4, burst_minutes=10) == []
    # within an hour the slow four make a second burst
    assert len(anomalies_of(db, "award_burst", burst_awards=3, burst_minutes=60)) == 2
    assert anomalies_of(db, "award_burst") == []  # the default: more than 30 in 10 minutes
    # a period that begins inside the first burst still shows it; one after it does not
    inside = burst.recorded_at + timedelta(minutes=2)
    assert anomalies_of(db, "award_burst", burst_awards=3, burst_minutes=10, since=inside)
    after = burst.ends_at + timedelta(seconds=1)
    assert anomalies_of(db, "award_burst", burst_awards=3, burst_minutes=10, since=after) == []


# --- the command line ---


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("GRIDLEDGER_DATABASE_URL", database_url)
    return CliRunner()


def test_the_command_exits_0_on_a_clean_ledger_and_1_naming_an_inconsistency(
    cli: CliRunner, history, people, project, db
) -> None:
    project(Jurisdictions())
    clean = cli.invoke(app, ["reconcile"])
    assert clean.exit_code == 0, clean.output
    assert "CONSISTENT" in clean.output and "invalid_source" in clean.output
    assert "18 entries of 3 accounts, 28 postings" in clean.output

    alice = people["alice"]
    db.execute("UPDATE points_balances SET balance = 0 WHERE member_id = %s AND community = %s",
               (alice, BH))  # fmt: skip
    broken = cli.invoke(app, ["reconcile"])
    assert broken.exit_code == 1
    assert "INCONSISTENT" in broken.output and "1 failed" in broken.output
    report = json.loads(cli.invoke(app, ["reconcile", "--json"]).output)
    assert report["consistent"] is False and report["checks"]["balance"] == 1
    assert report["inconsistencies"][0]["subject"] == f"member:{alice}:{BH}"
    assert {a["kind"] for a in report["anomalies"]} == {"invalid_source"}

    scoped = cli.invoke(app, ["reconcile", "--jurisdiction", NS, "--json"])
    assert scoped.exit_code == 0 and json.loads(scoped.output)["counts"]["entries"] == 1
    as_of = cli.invoke(app, ["reconcile", "--as-of", "2026-03-02", "--json"])
    assert as_of.exit_code == 0, as_of.output  # the balance rows are current: not compared
    assert json.loads(as_of.output)["counts"]["entries"] == 7  # the first local day


def test_the_command_refuses_an_unknown_jurisdiction_and_a_bad_time(
    cli: CliRunner, tree, project
) -> None:
    project(Jurisdictions())
    unknown = cli.invoke(app, ["reconcile", "--jurisdiction", "NOWHERE"])
    assert unknown.exit_code == 2 and "no jurisdiction NOWHERE" in unknown.output
    bad = cli.invoke(app, ["reconcile", "--as-of", "yesterday"])
    assert bad.exit_code == 2 and "as-of must be a date" in bad.output


def test_as_of_reads_a_date_as_the_end_of_that_local_day_and_a_bare_time_as_local() -> None:
    assert parse_as_of("2026-03-31") == datetime(2026, 3, 31, 15, 59, 59, 999999, tzinfo=UTC)
    assert parse_as_of("2026-03-31T08:00") == datetime(2026, 3, 31, 0, 0, tzinfo=UTC)
    assert parse_as_of("2026-03-31T08:00:00+00:00") == datetime(2026, 3, 31, 8, 0, tzinfo=UTC)
