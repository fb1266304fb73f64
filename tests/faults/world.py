"""The bad-input suite's world: a real `gridledger serve` (and `gridledger project`) on
the test's database, a small district in it, a token per role, and a judge that counts
every answer, noting a 5xx (but an honest 503) and a refused command that recorded an
event (the log's head moved)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis

from api.http.auth import ROLES
from tests.faults.procs import Gridledger, Server, head

COMMANDS = ("POST", "PUT", "PATCH", "DELETE")


class World:
    """The server, a small district in it, a token per role, and what was answered."""

    def __init__(self, gl: Gridledger, server: Server) -> None:
        self.gl = gl
        self.server = server
        self.statuses: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()
        self.refused_with_events: list[str] = []
        self.server_errors: list[str] = []
        admin = gl.token("admin", "staff:admin-1", "*")
        with server.client() as client:
            for code, kind, parent in (
                ("HG", "district", None),
                ("HG-WH", "street", "HG"),
                ("HG-WH-BH", "community", "HG-WH"),
                ("HG-WH-BH-01", "grid", "HG-WH-BH"),
                ("XB", "district", None),  # another district, for scope
                ("XB-01", "street", "XB"),
                ("XB-01-01", "community", "XB-01"),
                ("XB-01-01-01", "grid", "XB-01-01"),
            ):
                body = {"code": code, "kind": kind, "name": f"{code}区", "parent": parent}
                answer = client.post(
                    "/v1/jurisdictions", json=body, headers={"Authorization": f"Bearer {admin}"}
                )
                assert answer.status_code == 201, answer.text
            member = client.post(
                "/v1/members",
                json={"name": "居民", "phone": "13800138000", "kind": "resident",
                      "home_grid": "HG-WH-BH-01"},
                headers={"Authorization": f"Bearer {admin}"},
            )  # fmt: skip
            assert member.status_code == 201, member.text
            foreign = client.post(
                "/v1/members",
                json={"name": "外区居民", "phone": "13900139000", "kind": "resident",
                      "home_grid": "XB-01-01-01"},
                headers={"Authorization": f"Bearer {admin}"},
            )  # fmt: skip
            assert foreign.status_code == 201, foreign.text
        self.foreign_member = str(foreign.json()["id"])
        """A resident of another district (XB-01-01-01)."""
        self.admin = admin
        who = {
            "admin": ("staff:admin-1", "*"),
            "street_staff": ("staff:street-1", "HG-WH"),
            "department_staff": ("staff:department-1", "HG"),
            "community_staff": ("staff:1", "HG-WH-BH"),
            "grid_worker": ("staff:worker-1", "HG-WH-BH-01"),
            "resident": (member.json()["id"], "HG-WH-BH"),
            "auditor": ("auditor-1", "HG"),
            "evaluator": ("evaluator-1", "HG"),
        }
        assert set(who) == set(ROLES)
        self.schema = schemathesis.openapi.from_url(f"{server.base}/openapi.json")
        self.tokens = {role: gl.token(role, sub, scope) for role, (sub, scope) in who.items()}
        self.member = str(member.json()["id"])
        """A resident of HG-WH-BH-01 (the resident token's own member id)."""

    def judge(self, what: str, method: str, response: Any, before: int) -> None:
        """Count the answer; note a 5xx (but an honest 503) and a refusal that recorded."""
        what = f"{what} -> {response.status_code}"
        self.statuses[f"{response.status_code}"] += 1
        if response.status_code >= 500 and not _honest_503(response):
            self.server_errors.append(f"{what}: {response.text[:300]}")
        refused = method.upper() in COMMANDS and response.status_code >= 400
        if refused and head(self.gl.url) != before:
            self.refused_with_events.append(what)

    def judge_case(self, role: str, case: Any, response: Any, before: int) -> None:
        self.seen[f"{case.method} {case.operation.path}"] += 1
        self.judge(f"{role} {case.method} {case.formatted_path}", case.method, response, before)

    def report(self, what: str) -> None:
        """Print the counts; assert no 5xx and no event recorded by a refusal."""
        print(
            f"\n{what}: answers {dict(sorted(self.statuses.items()))}; 5xx"
            f" {len(self.server_errors)}; refused commands that recorded an event"
            f" {len(self.refused_with_events)}"
        )
        assert self.server_errors == []
        assert self.refused_with_events == []

    def call(self, role: str, case: Any) -> None:
        before = head(self.gl.url)
        response = case.call(**self.kwargs(role))
        self.judge_case(role, case, response, before)

    def kwargs(self, role: str) -> dict[str, Any]:
        return {
            "headers": {"Authorization": f"Bearer {self.tokens[role]}"},
            "base_url": self.server.base,
            "timeout": 30,
        }


def _honest_503(response: Any) -> bool:
    """A 503 that says when to come back: the projections behind a `min_position`."""
    return response.status_code == 503 and "retry-after" in {k.lower() for k in response.headers}
