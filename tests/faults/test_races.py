"""Eight clients racing conflicting commands on the same aggregates through a real
`gridledger serve`: redemptions against the same balances, awards for the same
source, every action of the lifecycle on the same tickets. Every answer is a 2xx or a
409 (never a 5xx), no balance goes below zero, and `gridledger reconcile` is clean."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import httpx
import psycopg

from tests.faults.procs import Gridledger, caught_up, eventually
from tests.faults.test_workers_killed import PROJECTIONS

CLIENTS = 8
ROUNDS = 20
COMMUNITY = "HG-WH-BH"
GRID = "HG-WH-BH-01"
IN_PROCESS = {"GRIDLEDGER_WORKERS_IN_PROCESS": "true"}


def _ok(client: httpx.Client, method: str, path: str, body: Any, token: str) -> dict[str, Any]:
    answer = client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.is_success, answer.text
    return answer.json()


def _setup(client: httpx.Client, admin: str) -> tuple[list[str], list[str]]:
    """A district, a rule worth 10, three members with 100 points each, four tickets;
    (member ids, ticket ids)."""
    for code, kind, parent in (
        ("HG", "district", None),
        ("HG-WH", "street", "HG"),
        (COMMUNITY, "community", "HG-WH"),
        (GRID, "grid", COMMUNITY),
    ):
        body = {"code": code, "kind": kind, "name": f"{code}区", "parent": parent}
        _ok(client, "POST", "/v1/jurisdictions", body, admin)
    rule = {"description": "help", "points": 10, "kind": "award"}
    _ok(client, "PUT", f"/v1/jurisdictions/{COMMUNITY}/rulebook/rules/help", rule, admin)
    members = []
    for n in range(3):
        body = {"name": f"居民{n}", "phone": "13800138000", "kind": "resident", "home_grid": GRID}
        members.append(str(_ok(client, "POST", "/v1/members", body, admin)["id"]))
        for s in range(10):
            _ok(client, "POST", "/v1/points/awards", _award(members[-1], f"setup-{s}"), admin)
    tickets = [str(_ok(client, "POST", "/v1/tickets", _ticket(), admin)["id"]) for _ in range(4)]
    return members, tickets


def _award(member: str, source: str) -> dict[str, Any]:
    return {
        "member_id": member,
        "community": COMMUNITY,
        "rule_code": "help",
        "source": {"kind": "inspection", "id": source},
    }


def _ticket() -> dict[str, Any]:
    return {"category": "环境卫生", "description": "楼道堆物", "grid": GRID, "source": "hotline"}


TICKET_ACTIONS = [
    ("accept", None),
    ("dispatch", {"level": "grid", "assignee": "worker-1"}),
    ("respond", {"note": "已到现场"}),
    ("resolve", {"resolution": "已清理"}),
    ("close", None),
    ("reopen", {"reason": "复发"}),
    ("reject", {"reason": "invalid"}),
]


def _race(base: str, token: str, seed: int, members: list[str], tickets: list[str], out: Counter):
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=60) as client:
        for round_no in range(ROUNDS):
            member = rng.choice(members)
            kind = rng.choice(["redeem", "award", "ticket", "ticket"])
            if kind == "redeem":
                body = {"member_id": member, "community": COMMUNITY, "item": "洗衣液", "points": 7}
                answer = client.post("/v1/points/redemptions", json=body, headers=headers)
            elif kind == "award":  # every client awards for the same few sources
                body = _award(member, f"race-{round_no % 3}")
                answer = client.post("/v1/points/awards", json=body, headers=headers)
            else:
                action, body = rng.choice(TICKET_ACTIONS)
                path = f"/v1/tickets/{rng.choice(tickets)}/{action}"
                answer = client.post(path, json=body, headers=headers)
            out[f"{kind} {answer.status_code}"] += 1


def _balances(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [int(r[0]) for r in conn.execute("SELECT balance FROM points_balances")]


def test_eight_clients_racing_conflicting_commands_get_2xx_or_409_and_reconcile_clean(
    gl: Gridledger,
) -> None:
    admin = gl.token("admin", "staff:admin-1", "*")
    server = gl.serve(env=IN_PROCESS)
    with server.client() as client:
        members, tickets = _setup(client, admin)
    tokens = [gl.token("community_staff", f"staff:racer-{n}", COMMUNITY) for n in range(CLIENTS)]
    answers: Counter[str] = Counter()
    racers = [
        threading.Thread(target=_race, args=(server.base, t, n, members, tickets, answers))
        for n, t in enumerate(tokens)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    eventually("the projections to catch up", lambda: caught_up(gl.url, len(PROJECTIONS)))
    balances = _balances(gl.url)
    reconciled = gl.run("reconcile")
    statuses = Counter(key.split()[1] for key in answers.elements())
    print(
        f"\n{CLIENTS} clients x {ROUNDS} racing commands: {dict(sorted(answers.items()))};"
        f" by status {dict(statuses)}; balances {balances};"
        f" reconcile exited {reconciled.returncode}"
    )
    assert sum(answers.values()) == CLIENTS * ROUNDS
    assert set(statuses) <= {"200", "201", "409"}, answers
    assert statuses["409"] > 0  # the races did conflict
    assert answers["award 201"] <= len(members) * 3  # one award per member and source
    assert min(balances) >= 0
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
