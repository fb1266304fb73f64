"""Random sequences of points commands against a simple model of what is allowed.

Reversals count against the total of the entry they reverse (an award's reversal
lowers `earned`, a deduction's lowers `deducted`, a redemption's lowers `redeemed`),
so at every step balance == earned - deducted - redeemed - expired.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.calendar import local_date
from domain.context import Actor, acting
from domain.errors import DomainError
from domain.points import PointsAccount
from domain.points_entry import EntryKey
from domain.points_policy import period_keys
from domain.rulebook import Rule, Rulebook

COMMUNITY = "HG-WH-BH"
STAFF = Actor("staff-1", "community_staff")
CHECKER = Actor("staff-2", "community_staff")
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CAP_PERIOD = {"per_day": "day", "per_month": "month", "per_year": "year"}


def make_rules() -> dict[str, Rule]:
    terms: dict[str, dict[str, Any]] = {
        "VOL": {"points": 5},
        "CAPPED": {"points": 4, "caps": {"per_day": 10, "per_month": 25, "per_year": 60}},
        "CHECKED": {"points": 3, "requires_approval": True, "caps": {"per_day": 9}},
        "LITTER": {"points": 6, "kind": "deduction"},
        "NOISE": {"points": 2, "kind": "deduction", "caps": {"per_day": 4}},
    }
    rules = {}
    with acting(STAFF, now=T0 - timedelta(days=1)):
        book = Rulebook(community=COMMUNITY)
        for code, given in terms.items():
            rules[code] = book.put_rule(
                code,
                **{
                    "description": code,
                    "kind": "award",
                    "caps": None,
                    "requires_approval": False,
                    "trigger": "manual",
                    **given,
                },
            )
    return rules


RULES = make_rules()
AWARD_RULES = ["VOL", "CAPPED", "CHECKED"]
DEDUCTION_RULES = ["LITTER", "NOISE"]


class PointsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.member = uuid4()
        self.resident = Actor(str(self.member), "resident")
        self.now = T0
        with acting(STAFF, now=self.now):
            self.account = PointsAccount(member_id=self.member, community=COMMUNITY)
        self.replayed: PointsAccount | None = None
        self.keys: dict[UUID, EntryKey] = {}
        self.sources: set[tuple[str, str, str]] = set()
        self.totals = {"earned": 0, "deducted": 0, "redeemed": 0, "expired": 0, "pending": 0}
        self.live: dict[tuple[str, str, str], int] = defaultdict(int)
        self.store()

    # --- helpers ---

    def store(self, *made: EntryKey | None) -> None:
        for event in self.account.collect_events():
            self.replayed = event.mutate(self.replayed)
        for key in made:
            if key is not None:
                assert key.id not in self.keys, "an entry id was used twice"
                self.keys[key.id] = key
        for key in self.keys.values():
            key.collect_events()

    def attempt(
        self,
        allowed: bool,
        actor: Actor,
        command: Callable[[PointsAccount], Any],
        *,
        deduction: bool = False,
    ) -> tuple[bool, Any]:
        balance_before = self.account.balance
        try:
            with acting(actor, now=self.now):
                made = command(self.account)
        except DomainError:
            assert not allowed, "an allowed command was refused"
            assert self.account.collect_events() == []
            assert all(k.collect_events() == [] for k in self.keys.values())
            return False, None
        assert allowed, "a refused command went through"
        if not deduction and self.account.balance < 0:
            assert self.account.balance >= balance_before, "only a deduction goes into the red"
        return True, made

    def today(self) -> date:
        return local_date(self.now)

    def fits_caps(self, code: str, points: int) -> bool:
        keys = period_keys(self.today())
        return all(
            cap is None or self.live[(code, period, keys[period])] + points <= cap
            for cap_name, period in CAP_PERIOD.items()
            for cap in [RULES[code].caps[cap_name]]
        )

    def count(self, code: str, on: date, points: int) -> None:
        for period, key in period_keys(on).items():
            self.live[(code, period, key)] += points

    def entries(self, kind: str, status: str | None = None) -> list[EntryKey]:
        return [
            k
            for k in self.keys.values()
            if k.kind == kind and (status is None or k.status == status)
        ]

    # --- commands ---

    @rule(hours=st.integers(1, 200))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(
        code=st.sampled_from(AWARD_RULES),
        n=st.integers(0, 4),
        quantity=st.integers(1, 3),
        by_resident=st.booleans(),
    )
    def award(self, code: str, n: int, quantity: int, by_resident: bool) -> None:
        source = {"kind": "photo", "id": f"s{n}"}
        if (code, "photo", source["id"]) in self.sources:
            entry_id = EntryKey.for_source(COMMUNITY, self.member, "photo", source["id"], code)
            assert entry_id in self.keys, "a repeated source must collide with its first entry"
            return
        r = RULES[code]
        points = r.points * quantity
        allowed = not by_resident and self.fits_caps(code, points)
        actor = self.resident if by_resident else STAFF
        done, key = self.attempt(
            allowed, actor, lambda a: a.award(r, source=source, quantity=quantity)
        )
        if not done:
            return
        self.sources.add((code, "photo", source["id"]))
        self.count(code, self.today(), points)
        self.totals["pending" if r.requires_approval else "earned"] += points
        self.store(key)

    @precondition(lambda self: self.entries("award", "pending"))
    @rule(i=st.integers(0, 50), checker=st.sampled_from(["staff-1", "staff-2", "member"]))
    def approve(self, i: int, checker: str) -> None:
        pending = self.entries("award", "pending")
        key = pending[i % len(pending)]
        actor = {"staff-1": STAFF, "staff-2": CHECKER, "member": self.resident}[checker]
        allowed = actor.id not in (key.awarded_by, str(self.member))
        done, _ = self.attempt(allowed, actor, lambda a: a.approve(key))
        if not done:
            return
        self.totals["pending"] -= key.points
        self.totals["earned"] += key.points
        self.store()

    @precondition(lambda self: self.entries("award", "pending"))
    @rule(i=st.integers(0, 50))
    def reject(self, i: int) -> None:
        pending = self.entries("award", "pending")
        key = pending[i % len(pending)]
        self.attempt(True, CHECKER, lambda a: a.reject(key, reason="不符合条件"))
        self.totals["pending"] -= key.points
        self.count(key.rule_code, key.on, -key.points)
        self.store()

    @rule(code=st.sampled_from(DEDUCTION_RULES), n=st.integers(0, 4))
    def deduct(self, code: str, n: int) -> None:
        source = {"kind": "ticket", "id": f"t{n}"}
        if (code, "ticket", source["id"]) in self.sources:
            return
        r = RULES[code]
        allowed = self.fits_caps(code, r.points)
        done, key = self.attempt(
            allowed, STAFF, lambda a: a.deduct(r, source=source, note="不文明"), deduction=True
        )
        if not done:
            return
        self.sources.add((code, "ticket", source["id"]))
        self.count(code, self.today(), r.points)
        self.totals["deducted"] += r.points
        self.store(key)

    @rule(points=st.integers(1, 40))
    def redeem(self, points: int) -> None:
        allowed = points <= self.account.balance
        done, key = self.attempt(allowed, STAFF, lambda a: a.redeem(item="大米", points=points))
        if not done:
            return
        self.totals["redeemed"] += points
        self.store(key)

    @precondition(lambda self: self.keys)
    @rule(i=st.integers(0, 50))
    def reverse(self, i: int) -> None:
        key = list(self.keys.values())[i % len(self.keys)]
        allowed = (
            key.kind in ("award", "deduction", "redemption")
            and key.status == "posted"
            and (key.kind != "award" or self.account.balance >= key.points)
        )
        done, reversal = self.attempt(allowed, STAFF, lambda a: a.reverse(key, reason="更正"))
        if not done:
            return
        total = {"award": "earned", "deduction": "deducted", "redemption": "redeemed"}[key.kind]
        self.totals[total] -= key.points
        if key.rule_code is not None:
            self.count(key.rule_code, key.on, -key.points)
        self.store(reversal)

    @rule(days_back=st.integers(-1, 30))
    def expire(self, days_back: int) -> None:
        before = self.today() - timedelta(days=days_back)
        balance = self.account.balance
        if days_back < 0:
            self.attempt(False, STAFF, lambda a: a.expire(before=before))
            return
        _, key = self.attempt(True, STAFF, lambda a: a.expire(before=before))
        assert all(day >= before.isoformat() for day in self.account.lots)
        if key is None:
            assert self.account.collect_events() == []
            return
        assert 0 < key.points <= balance
        self.totals["expired"] += key.points
        self.store(key)

    # --- invariants ---

    @invariant()
    def the_totals_match_the_model_and_reconcile(self) -> None:
        a = self.account
        assert {k: getattr(a, k) for k in self.totals} == self.totals
        assert a.balance == a.earned - a.deducted - a.redeemed - a.expired
        assert a.pending == sum(e["points"] for e in a.pending_awards.values())
        assert set(a.pending_awards) == {str(k.id) for k in self.entries("award", "pending")}

    @invariant()
    def the_lots_hold_exactly_the_positive_balance(self) -> None:
        assert all(n > 0 for n in self.account.lots.values())
        assert sum(self.account.lots.values()) == max(0, self.account.balance)

    @invariant()
    def caps_are_never_exceeded(self) -> None:
        for (code, period, _key), points in self.live.items():
            cap = RULES[code].caps[f"per_{period}"]
            assert cap is None or points <= cap
        for code, bucket in self.account.cap_buckets.items():
            for period in ("day", "month", "year"):
                assert bucket[f"{period}_points"] == self.live[(code, period, bucket[period])]

    @invariant()
    def every_award_and_deduction_is_keyed_by_its_source_and_rule(self) -> None:
        keyed = [k for k in self.keys.values() if k.kind in ("award", "deduction")]
        assert len(keyed) == len(self.sources)
        for k in keyed:
            assert k.id == EntryKey.for_source(
                COMMUNITY, self.member, k.source["kind"], k.source["id"], k.rule_code
            )

    @invariant()
    def replaying_the_events_gives_the_same_account(self) -> None:
        assert self.replayed == self.account
        assert PointsAccount.Snapshot.take(self.account).mutate(None) == self.account


PointsMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPointsAccount = PointsMachine.TestCase
