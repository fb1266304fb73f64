"""The civility-points query tables, fed through Governance: balances, ledger, entries,
double-entry postings and rule versions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor
from domain.points import PointsAccount
from projections.engine.batch import Projection, physical
from projections.engine.rebuild import checksums, rebuild
from projections.views.points import PointsProjection, PointsRulesProjection
from tests.fakes import FakeClock

STAFF = Meta(actor=Actor("staff-1", "community_staff"))
CHECKER = Meta(actor=Actor("staff-2", "community_staff"))
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def put(gov: Governance, community: str, code: str, **terms: Any) -> int:
    defaults: dict[str, Any] = {
        "description": f"rule {code}",
        "points": 5,
        "kind": "award",
        "caps": None,
        "requires_approval": False,
        "trigger": "manual",
    }
    return gov.put_rule(STAFF, community, code, **{**defaults, **terms}).position


def award(gov: Governance, member: UUID, community: str, code: str, source: str, **kw: Any) -> Any:
    return gov.award_points(
        kw.pop("meta", STAFF),
        member_id=member,
        community=community,
        rule_code=code,
        source_kind="photo",
        source_id=source,
        **kw,
    ).extra["entry_id"]


def deduct(gov: Governance, member: UUID, community: str, source: str) -> UUID:
    return gov.deduct_points(
        STAFF,
        member_id=member,
        community=community,
        rule_code="LITTER",
        source_kind="ticket",
        source_id=source,
        note="乱扔垃圾",
    ).extra["entry_id"]


def redeem(gov: Governance, member: UUID, community: str, points: int) -> UUID:
    return gov.redeem_points(
        STAFF, member_id=member, community=community, item="洗衣液", points=points
    ).extra["entry_id"]


def rows(db: psycopg.Connection, query: str, *params: Any) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()  # type: ignore[arg-type]  # a test query is a plain str


def one(db: psycopg.Connection, query: str, *params: Any) -> dict[str, Any]:
    (row,) = rows(db, query, *params)
    return row


@pytest.fixture
def people(governance: Governance, admin: Meta, tree: dict[str, str]) -> dict[str, UUID]:
    def register(name: str, phone: str) -> UUID:
        return governance.register_member(
            admin,
            name=name,
            phone=phone,
            kind="resident",
            party_member=False,
            home_grid=tree["grid"],
        ).id

    return {"alice": register("王芳", "13800000001"), "bob": register("李强", "13800000002")}


def mixed_history(
    gov: Governance, admin: Meta, clock: FakeClock, tree: dict[str, str], people: dict[str, UUID]
) -> dict[str, Any]:
    """Every kind of entry, in two communities; answers the entry ids by name."""
    bh, ns = tree["community"], tree["other_community"]
    alice, bob = people["alice"], people["bob"]
    put(gov, bh, "VOL")
    put(gov, bh, "CHECKED", points=10, requires_approval=True)
    put(gov, bh, "LITTER", kind="deduction", points=3)
    put(gov, bh, "ATTEND", points=4, caps={"per_day": 3}, trigger="activity_attendance")
    put(gov, ns, "VOL", points=2)
    ids: dict[str, Any] = {"vol": award(gov, alice, bh, "VOL", "p1", quantity=4, note="扫雪")}
    ids["approved"] = award(gov, alice, bh, "CHECKED", "p2")
    gov.approve_award(CHECKER, ids["approved"])
    ids["rejected"] = award(gov, alice, bh, "CHECKED", "p3")
    gov.reject_award(CHECKER, ids["rejected"], reason="照片与事项不符")
    ids["pending"] = award(gov, bob, bh, "CHECKED", "p4")
    activity = gov.schedule_activity(
        admin,
        title="清洁家园",
        jurisdiction=tree["grid"],
        starts_at=clock.now,
        ends_at=clock.now + timedelta(hours=2),
        points_rule="ATTEND",
    ).id
    gov.check_in(admin, activity, member_id=alice)
    clock.advance(hours=2)
    gov.check_out(admin, activity, member_id=alice)
    gov.close_activity(admin, activity)
    ids["activity"] = activity
    clock.advance(days=1)
    ids["deduction"] = deduct(gov, alice, bh, "t-1")
    ids["redemption"] = redeem(gov, alice, bh, 12)
    ids["reverse_deduction"] = gov.reverse_entry(STAFF, ids["deduction"], reason="误扣").extra[
        "entry_id"
    ]
    ids["reverse_redemption"] = gov.reverse_entry(STAFF, ids["redemption"], reason="退货").extra[
        "entry_id"
    ]
    ids["bob_vol"] = award(gov, bob, bh, "VOL", "p5")
    ids["reverse_award"] = gov.reverse_entry(CHECKER, ids["bob_vol"], reason="重复登记").extra[
        "entry_id"
    ]
    ids["bob_debt"] = deduct(gov, bob, bh, "t-2")
    ids["bob_vol2"] = award(gov, bob, bh, "VOL", "p6")
    ids["ns_vol"] = award(gov, alice, ns, "VOL", "p7", quantity=3)
    redeem(gov, alice, bh, 7)
    clock.advance(days=1)
    ids["expiry"] = gov.expire_points(
        STAFF, member_id=alice, community=bh, before=date(2026, 3, 3)
    ).extra["entry_id"]
    return ids


def test_rule_versions_are_ranges_in_time(
    governance: Governance, tree: dict[str, str], clock: FakeClock, project, db
) -> None:
    bh = tree["community"]
    first = put(governance, bh, "VOL", caps={"per_day": 10})
    clock.advance(days=2)
    put(governance, bh, "VOL", caps={"per_day": 10})  # identical: records nothing
    second = put(governance, bh, "VOL", points=8, caps={"per_month": 40, "per_year": 200})
    project(PointsRulesProjection())  # the next versions arrive in a later batch
    clock.advance(days=1)
    governance.retire_rule(STAFF, bh, "VOL")
    retired = governance.recorder.max_notification_id()
    put(governance, bh, "LITTER", kind="deduction", points=3, description="乱扔垃圾")
    put(governance, tree["other_community"], "VOL", trigger="valid_report", requires_approval=True)
    project(PointsRulesProjection())

    versions = rows(
        db, "SELECT * FROM points_rules WHERE community = %s ORDER BY rule_code, version", bh
    )
    book_id = versions[0]["rulebook_id"]
    assert versions == [
        {
            "community": bh,
            "rule_code": "LITTER",
            "version": 1,
            "rulebook_id": book_id,
            "description": "乱扔垃圾",
            "points": 3,
            "kind": "deduction",
            "per_day": None,
            "per_month": None,
            "per_year": None,
            "requires_approval": False,
            "trigger": "manual",
            "in_force": True,
            "is_current": True,
            "effective_from": START + timedelta(days=3),
            "effective_until": None,
            "recorded_by": "staff-1",
            "position": retired + 1,
        },
        {
            "community": bh,
            "rule_code": "VOL",
            "version": 1,
            "rulebook_id": book_id,
            "description": "rule VOL",
            "points": 5,
            "kind": "award",
            "per_day": 10,
            "per_month": None,
            "per_year": None,
            "requires_approval": False,
            "trigger": "manual",
            "in_force": True,
            "is_current": False,
            "effective_from": START,
            "effective_until": START + timedelta(days=2),
            "recorded_by": "staff-1",
            "position": first,
        },
        {
            "community": bh,
            "rule_code": "VOL",
            "version": 2,
            "rulebook_id": book_id,
            "description": "rule VOL",
            "points": 8,
            "kind": "award",
            "per_day": None,
            "per_month": 40,
            "per_year": 200,
            "requires_approval": False,
            "trigger": "manual",
            "in_force": True,
            "is_current": False,
            "effective_from": START + timedelta(days=2),
            "effective_until": START + timedelta(days=3),
            "recorded_by": "staff-1",
            "position": second,
        },
        {
            "community": bh,
            "rule_code": "VOL",
            "version": 3,
            "rulebook_id": book_id,
            "description": None,
            "points": None,
            "kind": None,
            "per_day": None,
            "per_month": None,
            "per_year": None,
            "requires_approval": None,
            "trigger": None,
            "in_force": False,
            "is_current": True,
            "effective_from": START + timedelta(days=3),
            "effective_until": None,
            "recorded_by": "staff-1",
            "position": retired,
        },
    ]
    other = one(db, "SELECT * FROM points_rules WHERE community = %s", tree["other_community"])
    assert (other["trigger"], other["requires_approval"], other["version"]) == (
        "valid_report",
        True,
        1,
    )
    books = rows(db, "SELECT * FROM points_rulebooks ORDER BY position")
    assert [(b["community"], b["opened_at"], b["position"]) for b in books] == [
        (bh, START, first - 1),
        (tree["other_community"], START + timedelta(days=3), retired + 2),
    ]
    assert book_id == books[0]["rulebook_id"] == governance.rulebook(bh).id

    def in_force(at: datetime) -> list[tuple[str, int]]:
        return [
            (r["rule_code"], r["version"])
            for r in rows(
                db,
                "SELECT rule_code, version FROM points_rules WHERE community = %s AND in_force"
                " AND effective_from <= %s AND (effective_until IS NULL OR effective_until > %s)"
                " ORDER BY rule_code",
                bh,
                at,
                at,
            )
        ]

    book = governance.rulebook(bh)
    for at in (
        START - timedelta(seconds=1),
        START,
        START + timedelta(days=1),
        START + timedelta(days=2),
        START + timedelta(days=3, hours=1),
    ):
        assert in_force(at) == [(r.code, r.version) for r in book.rules_as_of(at)]
    assert in_force(START + timedelta(days=1)) == [("VOL", 1)]
    assert in_force(START + timedelta(days=3)) == [("LITTER", 1)]


def test_the_ledger_has_every_entry_event_with_its_running_balance(
    governance: Governance,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    people: dict[str, UUID],
    project,
    db,
) -> None:
    ids = mixed_history(governance, admin, clock, tree, people)
    project(PointsProjection())
    bh, alice, bob = tree["community"], people["alice"], people["bob"]
    account = PointsAccount.id_for(alice, bh)
    ledger = rows(
        db,
        "SELECT * FROM points_ledger WHERE member_id = %s AND community = %s ORDER BY position",
        alice,
        bh,
    )
    assert [
        (r["kind"], r["entry_kind"], r["status"], r["points"], r["delta"], r["balance_after"])
        for r in ledger
    ] == [
        ("award", "award", "posted", 20, 20, 20),
        ("award", "award", "pending", 10, 0, 20),
        ("approval", "award", "posted", 10, 10, 30),
        ("award", "award", "pending", 10, 0, 30),
        ("rejection", "award", "rejected", 10, 0, 30),
        ("award", "award", "posted", 3, 3, 33),
        ("deduction", "deduction", "posted", 3, -3, 30),
        ("redemption", "redemption", "posted", 12, -12, 18),
        ("reversal", "reversal", "posted", 3, 3, 21),
        ("reversal", "reversal", "posted", 12, 12, 33),
        ("redemption", "redemption", "posted", 7, -7, 26),
        ("expiry", "expiry", "posted", 11, -11, 15),
    ]
    stream = [e for e in governance.events.get(account) if type(e) is not PointsAccount.Opened]
    assert [r["position"] for r in ledger] == [
        governance.recorder.position_of(account, e.originator_version) for e in stream
    ]
    assert [
        (r["entry_id"], r["recorded_at"], r["on_date"], r["actor_id"], r["actor_role"])
        for r in ledger
    ] == [(e.entry_id, e.timestamp, e.on, e.actor_id, e.actor_role) for e in stream]
    assert {r["account_id"] for r in ledger} == {account}
    common = {"account_id": account, "member_id": alice, "community": bh}
    first = ledger[0]
    assert first == {
        **common,
        "position": first["position"],
        "entry_id": ids["vol"],
        "recorded_at": START,
        "on_date": date(2026, 3, 2),
        "kind": "award",
        "entry_kind": "award",
        "status": "posted",
        "points": 20,
        "delta": 20,
        "balance_after": 20,
        "rule_code": "VOL",
        "rule_version": 1,
        "source": {"kind": "photo", "id": "p1"},
        "awarded_by": "staff-1",
        "approved_by": None,
        "quantity": 4,
        "clipped_from": None,
        "note": "扫雪",
        "item": None,
        "reason": None,
        "reverses": None,
        "reverses_kind": None,
        "before_date": None,
        "lots": None,
        "actor_id": "staff-1",
        "actor_role": "community_staff",
    }
    approval, rejection, attended = ledger[2], ledger[4], ledger[5]
    assert (
        approval["entry_id"],
        approval["approved_by"],
        approval["awarded_by"],
        approval["rule_code"],
        approval["actor_id"],
    ) == (
        ids["approved"],
        "staff-2",
        "staff-1",
        "CHECKED",
        "staff-2",
    )
    assert (ledger[1]["entry_id"], ledger[1]["approved_by"]) == (ids["approved"], None)
    assert (rejection["entry_id"], rejection["reason"], rejection["approved_by"]) == (
        ids["rejected"],
        "照片与事项不符",
        None,
    )
    assert (
        attended["rule_code"],
        attended["awarded_by"],
        attended["clipped_from"],
        attended["quantity"],
        attended["source"],
    ) == (
        "ATTEND",
        "system",
        4,
        1,
        {"kind": "activity", "id": str(ids["activity"])},
    )
    deduction, redemption, undo_deduction, undo_redemption = ledger[6:10]
    assert (deduction["note"], deduction["rule_code"], deduction["source"]) == (
        "乱扔垃圾",
        "LITTER",
        {"kind": "ticket", "id": "t-1"},
    )
    assert (
        redemption["item"],
        redemption["rule_code"],
        redemption["awarded_by"],
        redemption["source"],
    ) == ("洗衣液", None, None, {"kind": "item", "id": "洗衣液"})
    assert (
        undo_deduction["entry_id"],
        undo_deduction["reverses"],
        undo_deduction["reverses_kind"],
        undo_deduction["reason"],
        undo_deduction["rule_code"],
        undo_deduction["source"],
    ) == (
        ids["reverse_deduction"],
        ids["deduction"],
        "deduction",
        "误扣",
        "LITTER",
        {"kind": "entry", "id": str(ids["deduction"])},
    )
    assert (undo_redemption["reverses"], undo_redemption["reverses_kind"]) == (
        ids["redemption"],
        "redemption",
    )
    expiry = ledger[-1]
    assert (
        expiry["entry_id"],
        expiry["before_date"],
        expiry["lots"],
        expiry["source"],
        expiry["on_date"],
    ) == (
        ids["expiry"],
        date(2026, 3, 3),
        {"2026-03-02": 11},
        {"kind": "expiry", "id": "2026-03-03"},
        date(2026, 3, 4),
    )
    bob_ledger = rows(db, "SELECT * FROM points_ledger WHERE member_id = %s ORDER BY position", bob)
    assert [(r["kind"], r["delta"], r["balance_after"]) for r in bob_ledger] == [
        ("award", 0, 0),
        ("award", 5, 5),
        ("reversal", -5, 0),
        ("deduction", -3, -3),
        ("award", 5, 2),
    ]
    assert (bob_ledger[2]["reverses_kind"], bob_ledger[2]["actor_id"]) == ("award", "staff-2")
    running = rows(
        db,
        "SELECT account_id, bool_and(balance_after = running) AS ok FROM (SELECT account_id,"
        " balance_after, sum(delta) OVER (PARTITION BY account_id ORDER BY position) AS running"
        " FROM points_ledger) AS r GROUP BY account_id",
    )
    assert len(running) == 3 and all(r["ok"] for r in running)


def test_entries_hold_each_entrys_current_status(
    governance: Governance,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    people: dict[str, UUID],
    project,
    db,
) -> None:
    ids = mixed_history(governance, admin, clock, tree, people)
    project(PointsProjection())
    entries = {r["entry_id"]: r for r in rows(db, "SELECT * FROM points_entries")}
    assert len(entries) == 16
    for entry_id, row in entries.items():
        key = governance.entry(entry_id)
        assert (
            row["account_id"],
            row["member_id"],
            row["community"],
            row["kind"],
            row["status"],
            row["points"],
            row["rule_code"],
            row["rule_version"],
            row["source"],
            row["awarded_by"],
            row["approved_by"],
            row["on_date"],
            row["posted_on"],
            row["reversed_by"],
        ) == (
            key.account_id,
            key.member_id,
            key.community,
            key.kind,
            key.status,
            key.points,
            key.rule_code,
            key.rule_version,
            key.source,
            key.awarded_by,
            key.approved_by,
            key.on,
            key.posted_on,
            key.reversed_by,
        )
        ledger = rows(
            db,
            "SELECT position, recorded_at FROM points_ledger WHERE entry_id = %s ORDER BY position",
            entry_id,
        )
        assert (row["position"], row["recorded_at"]) == (
            ledger[0]["position"],
            ledger[0]["recorded_at"],
        )
    vol = entries[ids["vol"]]
    assert (vol["quantity"], vol["note"], vol["clipped_from"], vol["last_position"]) == (
        4,
        "扫雪",
        None,
        vol["position"],
    )
    approved = entries[ids["approved"]]
    approval = one(db, "SELECT * FROM points_ledger WHERE kind = 'approval'")
    assert (
        approved["status"],
        approved["approved_by"],
        approved["approved_at"],
        approved["last_position"],
        approved["posted_on"],
    ) == (
        "posted",
        "staff-2",
        approval["recorded_at"],
        approval["position"],
        date(2026, 3, 2),
    )
    rejected = entries[ids["rejected"]]
    assert (
        rejected["status"],
        rejected["reason"],
        rejected["rejected_at"],
        rejected["posted_on"],
    ) == ("rejected", "照片与事项不符", START, None)
    pending = rows(
        db,
        "SELECT entry_id, member_id, points FROM points_entries"
        " WHERE status = 'pending' AND community = %s",
        tree["community"],
    )
    assert pending == [{"entry_id": ids["pending"], "member_id": people["bob"], "points": 10}]
    deduction = entries[ids["deduction"]]
    undo = entries[ids["reverse_deduction"]]
    assert (
        deduction["status"],
        deduction["reversed_by"],
        deduction["reversal_reason"],
        deduction["reversed_at"],
        deduction["note"],
        deduction["last_position"],
    ) == (
        "reversed",
        undo["entry_id"],
        "误扣",
        undo["recorded_at"],
        "乱扔垃圾",
        undo["position"],
    )
    assert (
        undo["kind"],
        undo["status"],
        undo["reverses"],
        undo["reverses_kind"],
        undo["reason"],
    ) == ("reversal", "posted", ids["deduction"], "deduction", "误扣")
    assert entries[ids["redemption"]]["item"] == "洗衣液"
    assert entries[ids["bob_vol"]]["status"] == "reversed"
    expiry = entries[ids["expiry"]]
    assert (expiry["before_date"], expiry["lots"], expiry["points"]) == (
        date(2026, 3, 3),
        {"2026-03-02": 11},
        11,
    )
    assert all(r["approved_at"] is None for e, r in entries.items() if e != ids["approved"])


def test_balances_match_the_accounts(
    governance: Governance,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    people: dict[str, UUID],
    project,
    db,
) -> None:
    mixed_history(governance, admin, clock, tree, people)
    project(PointsProjection())
    balances = rows(db, "SELECT * FROM points_balances ORDER BY last_position")
    assert len(balances) == 3
    for row in balances:
        account = governance.points_account(row["member_id"], row["community"])
        assert row == {
            "account_id": account.id,
            "member_id": account.member_id,
            "community": account.community,
            "balance": account.balance,
            "earned": account.earned,
            "deducted": account.deducted,
            "redeemed": account.redeemed,
            "expired": account.expired,
            "pending": account.pending,
            "opened_at": row["opened_at"],
            "updated_at": row["updated_at"],
            "last_position": row["last_position"],
        }
        assert row["balance"] == row["earned"] - row["deducted"] - row["redeemed"] - row["expired"]
        last = one(
            db,
            "SELECT position, recorded_at FROM points_ledger WHERE account_id = %s"
            " ORDER BY position DESC LIMIT 1",
            account.id,
        )
        assert (row["last_position"], row["updated_at"]) == (last["position"], last["recorded_at"])
        first = one(
            db,
            "SELECT recorded_at FROM points_ledger WHERE account_id = %s ORDER BY position LIMIT 1",
            account.id,
        )
        assert row["opened_at"] == first["recorded_at"]
    alice = {r["community"]: r for r in balances if r["member_id"] == people["alice"]}
    bh = alice[tree["community"]]
    assert (
        bh["balance"],
        bh["earned"],
        bh["deducted"],
        bh["redeemed"],
        bh["expired"],
        bh["pending"],
    ) == (15, 33, 0, 7, 11, 0)
    assert alice[tree["other_community"]]["balance"] == 6
    bob = one(db, "SELECT * FROM points_balances WHERE member_id = %s", people["bob"])
    assert (bob["balance"], bob["earned"], bob["deducted"], bob["pending"]) == (2, 5, 3, 10)
    summed = one(
        db,
        "SELECT sum(balance) AS balance, sum(pending) AS pending FROM points_balances"
        " WHERE member_id = %s",
        people["alice"],
    )
    assert (summed["balance"], summed["pending"]) == (21, 0)


def test_postings_are_double_entry_and_reconcile(
    governance: Governance,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    people: dict[str, UUID],
    project,
    db,
) -> None:
    ids = mixed_history(governance, admin, clock, tree, people)
    project(PointsProjection())
    assert one(db, "SELECT sum(amount) AS total FROM points_postings")["total"] == 0
    unbalanced = rows(
        db,
        "SELECT position FROM points_postings GROUP BY position"
        " HAVING sum(amount) <> 0 OR count(*) <> 2",
    )
    assert unbalanced == []
    totals = rows(
        db,
        "SELECT community, account_type, sum(amount) AS amount FROM points_postings"
        " GROUP BY community, account_type ORDER BY community, account_type",
    )
    by = {(r["community"], r["account_type"]): r["amount"] for r in totals}
    bh, ns = tree["community"], tree["other_community"]
    assert by == {
        (bh, "deducted"): 3,
        (bh, "expired"): 11,
        (bh, "issuance"): -38,
        (bh, "member"): 17,
        (bh, "redeemed"): 7,
        (ns, "issuance"): -6,
        (ns, "member"): 6,
    }
    for community in (bh, ns):
        issued = -by[(community, "issuance")]
        assert issued == sum(
            by.get((community, t), 0) for t in ("member", "redeemed", "expired", "deducted")
        )
    holdings = rows(
        db,
        "SELECT b.account_id, b.balance, coalesce(sum(p.amount), 0) AS held"
        " FROM points_balances b LEFT JOIN points_postings p ON p.account ="
        " 'member:' || b.member_id || ':' || b.community GROUP BY b.account_id, b.balance",
    )
    assert len(holdings) == 3 and all(h["balance"] == h["held"] for h in holdings)
    issued = one(
        db,
        "SELECT -sum(amount) AS issued FROM points_postings WHERE account_type = 'issuance'"
        " AND community = %s",
        bh,
    )["issued"]
    earned = one(db, "SELECT sum(earned) AS earned FROM points_balances WHERE community = %s", bh)
    assert issued == earned["earned"] == 38

    alice = people["alice"]
    member = f"member:{alice}:{bh}"
    legs = rows(
        db,
        "SELECT * FROM points_postings WHERE entry_id = ANY(%s) ORDER BY posting_id",
        [
            ids["approved"],
            ids["rejected"],
            ids["pending"],
            ids["reverse_redemption"],
            ids["reverse_award"],
        ],
    )
    approval = one(
        db, "SELECT position, recorded_at, on_date FROM points_ledger WHERE kind = 'approval'"
    )
    p = approval["position"]
    assert legs[:2] == [
        {
            "posting_id": p * 10 + 1,
            "position": p,
            "leg": 1,
            "entry_id": ids["approved"],
            "kind": "approval",
            "community": bh,
            "account": f"community:{bh}:issuance",
            "account_type": "issuance",
            "member_id": None,
            "counter_account": member,
            "amount": -10,
            "recorded_at": approval["recorded_at"],
            "on_date": approval["on_date"],
        },
        {
            "posting_id": p * 10 + 2,
            "position": p,
            "leg": 2,
            "entry_id": ids["approved"],
            "kind": "approval",
            "community": bh,
            "account": member,
            "account_type": "member",
            "member_id": alice,
            "counter_account": f"community:{bh}:issuance",
            "amount": 10,
            "recorded_at": approval["recorded_at"],
            "on_date": approval["on_date"],
        },
    ]
    assert [(r["kind"], r["account"], r["amount"]) for r in legs[2:]] == [
        ("reversal", f"community:{bh}:redeemed", -12),
        ("reversal", member, 12),
        ("reversal", f"member:{people['bob']}:{bh}", -5),
        ("reversal", f"community:{bh}:issuance", 5),
    ]
    kinds = rows(db, "SELECT kind, count(*) AS n FROM points_postings GROUP BY kind ORDER BY kind")
    assert [(k["kind"], k["n"]) for k in kinds] == [
        ("approval", 2),
        ("award", 10),
        ("deduction", 4),
        ("expiry", 2),
        ("redemption", 4),
        ("reversal", 6),
    ]


def test_batches_as_they_come_give_the_same_tables_as_a_rebuild(
    governance: Governance,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    people: dict[str, UUID],
    project,
    db,
    database_url: str,
) -> None:
    projections: list[Projection] = [PointsProjection(), PointsRulesProjection()]
    bh, alice = tree["community"], people["alice"]
    put(governance, bh, "CHECKED", points=10, requires_approval=True)
    held = award(governance, alice, bh, "CHECKED", "early")
    project(*projections)
    mixed_history(governance, admin, clock, tree, people)
    project(*projections)
    governance.approve_award(CHECKER, held)
    put(governance, bh, "VOL", points=6)
    award(governance, people["bob"], bh, "VOL", "late")
    project(*projections)
    clock.advance(days=1)
    reversal = governance.reverse_entry(STAFF, held, reason="材料不全").extra["entry_id"]
    project(*projections)

    for projection in projections:
        one_by_one = rebuild(
            database_url, governance.mapper, projection, batch_size=1, activate=False
        )
        at_once = rebuild(database_url, governance.mapper, projection, activate=False)
        for generation in (one_by_one, at_once):
            assert checksums(db, projection, generation) == checksums(db, projection, 1)
        for base in projection.tables:

            def select(generation: int, base: str = base) -> list[tuple[Any, ...]]:
                return db.execute(
                    sql.SQL("SELECT * FROM {} ORDER BY 1, 2, 3").format(
                        sql.Identifier(physical(base, generation))
                    )
                ).fetchall()

            assert select(1), base
            assert select(1) == select(one_by_one) == select(at_once), base
    assert one(db, "SELECT sum(amount) AS total FROM points_postings")["total"] == 0
    entry = one(db, "SELECT * FROM points_entries WHERE entry_id = %s", held)
    assert (entry["status"], entry["approved_by"], entry["reversed_by"]) == (
        "reversed",
        "staff-2",
        reversal,
    )
    assert entry["approved_at"] < entry["reversed_at"]
    legs = rows(
        db,
        "SELECT kind, account_type, amount FROM points_postings WHERE entry_id = ANY(%s)"
        " ORDER BY posting_id",
        [held, reversal],
    )
    assert [(r["kind"], r["account_type"], r["amount"]) for r in legs] == [
        ("approval", "issuance", -10),
        ("approval", "member", 10),
        ("reversal", "member", -10),
        ("reversal", "issuance", 10),
    ]
    account = governance.points_account(alice, bh)
    balance = one(db, "SELECT * FROM points_balances WHERE account_id = %s", account.id)
    assert (balance["balance"], balance["earned"], balance["pending"]) == (
        account.balance,
        account.earned,
        0,
    )


def test_the_ledger_source_is_json(
    governance: Governance, tree: dict[str, str], people: dict[str, UUID], project, db
) -> None:
    put(governance, tree["community"], "VOL")
    award(governance, people["alice"], tree["community"], "VOL", '引号"和\\斜杠')
    project(PointsProjection())
    row = one(db, "SELECT source, source::text AS text FROM points_ledger")
    assert row["source"] == {"kind": "photo", "id": '引号"和\\斜杠'}
    assert json.loads(row["text"]) == row["source"]
