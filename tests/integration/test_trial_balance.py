"""The trial balance from the double-entry postings: known answers, as-of reproducibility,
and the flat bilingual table (the zero total of a simulated district: test_reconcile)."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from domain.application import Governance
from domain.commands.base import Meta
from projections.analysis.trial_balance import TOTAL_LABEL, trial_balance, trial_balance_table
from projections.views.points import PointsProjection, PointsRulesProjection
from tests.fakes import FakeClock
from tests.integration.test_projection_points import (
    START,
    award,
    mixed_history,
    redeem,
)
from tests.integration.test_projection_points import people as people_fixture

BH, NS = "HG-WH-BH", "HG-WH-NS"
people = people_fixture  # two residents of 北环


def lines(db: psycopg.Connection, **kw) -> list[tuple]:
    tb = trial_balance(db, **kw)
    return [(a.account, a.debits, a.credits, a.balance) for a in tb.accounts]


def test_every_account_of_a_mixed_history_with_known_debits_credits_and_balances(
    governance: Governance, admin: Meta, clock: FakeClock, tree, people, project, db
) -> None:
    mixed_history(governance, admin, clock, tree, people)
    project(PointsProjection(), PointsRulesProjection())
    alice, bob = people["alice"], people["bob"]

    tb = trial_balance(db)
    # alice in 北环: +20 (VOL x4) +10 (approved) +3 (ATTEND, clipped to its day cap) -3
    # (deducted) -12 (redeemed) +3 +12 (both reversed) -7 (redeemed) -11 (expired: what
    # was left of the points earned before 3 March, oldest first); bob: +5 -5 (award
    # reversed) -3 (deducted, into the red) +5; the rejected and the pending award post
    # nothing.
    assert [(a.account, a.debits, a.credits, a.balance) for a in tb.accounts] == [
        (f"community:{BH}:issuance", 5, 43, -38),
        *sorted([(f"member:{alice}:{BH}", 48, 33, 15), (f"member:{bob}:{BH}", 10, 8, 2)]),
        (f"community:{BH}:redeemed", 19, 12, 7),
        (f"community:{BH}:expired", 11, 0, 11),
        (f"community:{BH}:deducted", 6, 3, 3),
        (f"community:{NS}:issuance", 0, 6, -6),
        (f"member:{alice}:{NS}", 6, 0, 6),
    ]
    assert (tb.debits, tb.credits, tb.balance) == (105, 105, 0)
    assert {a.member_id for a in tb.accounts if a.account_type == "member"} == {alice, bob}
    bh = tb.communities[0]
    assert (bh.community, bh.issued, bh.held, bh.redeemed, bh.expired, bh.deducted) == (
        BH, 38, 17, 7, 11, 3)  # fmt: skip
    assert bh.balanced and tb.communities[1].issued == 6
    assert tb.last_position == governance.recorder.max_notification_id() - 1  # + its EntryKey

    by_type = trial_balance(db, detail="type")
    assert [(a.account, a.accounts, a.balance) for a in by_type.accounts][:2] == [
        (f"community:{BH}:issuance", 1, -38),
        (f"community:{BH}:members", 2, 17),
    ]
    assert (by_type.debits, by_type.credits, by_type.balance) == (105, 105, 0)

    assert lines(db, communities=[NS]) == [
        (f"community:{NS}:issuance", 0, 6, -6),
        (f"member:{alice}:{NS}", 6, 0, 6),
    ]
    assert lines(db, communities=["HG-WH-BH-01"]) == []  # a grid holds no accounts


def test_as_of_counts_only_what_was_recorded_by_then_and_later_events_change_nothing(
    governance: Governance, admin: Meta, clock: FakeClock, tree, people, project, db
) -> None:
    mixed_history(governance, admin, clock, tree, people)
    project(PointsProjection(), PointsRulesProjection())
    alice = people["alice"]
    # The first day ends at START + 2 h: 33 points issued to alice in 北环, nothing else.
    assert lines(db, as_of=START + timedelta(hours=3)) == [
        (f"community:{BH}:issuance", 0, 33, -33),
        (f"member:{alice}:{BH}", 33, 0, 33),
    ]
    assert lines(db, as_of=START - timedelta(seconds=1)) == []
    then = clock.now
    before = trial_balance(db, as_of=then)

    clock.advance(days=3)
    award(governance, alice, BH, "VOL", "later-1", quantity=2)
    redeem(governance, alice, BH, 4)
    project(PointsProjection())
    assert trial_balance(db, as_of=then) == before
    now = trial_balance(db)
    assert now.accounts != before.accounts and now.balance == 0
    assert now.communities[0].issued == before.communities[0].issued + 10


def test_the_flat_table_has_bilingual_headers_and_a_totals_row(
    governance: Governance, admin: Meta, clock: FakeClock, tree, people, project, db
) -> None:
    mixed_history(governance, admin, clock, tree, people)
    project(PointsProjection(), PointsRulesProjection())
    tb = trial_balance(db, communities=[NS])
    columns, rows = trial_balance_table(tb)
    assert [c.header for c in columns] == [
        "Community / 社区",
        "Account / 账户",
        "Account type / 账户类型",
        "Member / 成员",
        "Accounts / 账户数",
        "Debit / 借方",
        "Credit / 贷方",
        "Balance / 余额",
    ]
    assert [(r["account"], r["debits"], r["credits"], r["balance"]) for r in rows] == [
        (f"community:{NS}:issuance", 0, 6, -6),
        (f"member:{people['alice']}:{NS}", 6, 0, 6),
        (TOTAL_LABEL, 6, 6, 0),
    ]
    assert all(set(r) == {c.key for c in columns} for r in rows)
