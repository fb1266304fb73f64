"""Who may run which command: the role matrix, in one place.

`admin` may run every command; with the platform scope `*` anywhere, with any other
scope (a district admin, say) only inside it, as every other role. Every other role
may run the commands listed for it. Every role acts only on targets within its
token's `scope`: inside the scope's subtree (the
target's jurisdiction path contains the scope code), or the community the scope lies
in (a grid worker scoped to a grid acts on its community's activities, pledges and
points); and a role marked "own" for a command
only on itself: the member the command is about must be the token's `sub`.
`auditor` and `evaluator` run no command. What each role reads: `api.http.visibility`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from api.http.auth import ROLES, Principal
from api.runtime.open311_clients import ROLE

STAFF = ("street_staff", "department_staff", "community_staff")
HANDLERS = (*STAFF, "grid_worker")
OWN = "resident"
OPEN311_CLIENT = ROLE
"""A client application through its Open311 api_key (api.http.open311): it only
reports tickets, within its key's district; not a role a bearer token can carry."""
PLATFORM = "*"
"""The scope of a platform admin: every jurisdiction, the audit trail, new districts."""

ALLOWED: dict[str, tuple[str, ...]] = {
    "define_jurisdiction": (),
    "put_rule": (),
    "put_assessment_policy": (),
    "register_member": ("community_staff",),
    "report_in_member": ("community_staff", OWN),
    "claim_role": ("community_staff",),
    "release_role": ("community_staff",),
    "register_organisation": ("community_staff",),
    "report_in_organisation": ("community_staff",),
    "schedule_activity": ("community_staff",),
    "check_in": ("community_staff", "grid_worker", OWN),
    "check_out": ("community_staff", "grid_worker", OWN),
    "close_activity": ("community_staff",),
    "cancel_activity": ("community_staff",),
    "make_pledge": ("community_staff", OWN),
    "accept_pledge": STAFF,
    "log_session": ("community_staff", "grid_worker", OWN),
    "verify_session": HANDLERS,
    "withdraw_pledge": ("community_staff", OWN),
    "review_pledge": STAFF,
    "report_ticket": (*HANDLERS, OWN, OPEN311_CLIENT),
    "accept_ticket": HANDLERS,
    "reject_ticket": HANDLERS,
    "dispatch_ticket": HANDLERS,
    "respond_ticket": HANDLERS,
    "escalate_ticket": HANDLERS,
    "supervise_ticket": STAFF,
    "resolve_ticket": HANDLERS,
    "rate_ticket": (*HANDLERS, OWN),
    "visit_ticket": HANDLERS,
    "close_ticket": STAFF,
    "reopen_ticket": STAFF,
    "award_points": HANDLERS,
    "approve_award": STAFF,
    "reject_award": STAFF,
    "deduct_points": STAFF,
    "redeem_points": ("community_staff", OWN),
    "reverse_entry": STAFF,
    "expire_points": STAFF,
    "erase_member": (),
}
"""Command -> the roles besides admin that may run it (`resident` only on itself)."""


class ForbiddenError(Exception):
    """Raised when the caller's role or scope does not allow the request (403)."""


@dataclass(frozen=True)
class Place:
    """A jurisdiction: its kind and the codes from the root down to it."""

    kind: str
    path: Sequence[str]

    def within(self, scope: str, scope_path: Sequence[str] | None) -> bool:
        """Whether this place lies within a token's `scope` (whose own path is given)."""
        if scope in self.path:
            return True
        return self.kind == "community" and scope_path is not None and self.path[-1] in scope_path


def allows(role: str, command: str) -> bool:
    return role == "admin" or role in ALLOWED[command]


def is_platform(principal: Principal) -> bool:
    """Whether `principal` is a platform admin (role admin, scope `*`)."""
    return principal.role == "admin" and principal.scope == PLATFORM


def refuse_role(principal: Principal, command: str) -> None:
    """Refuse (ForbiddenError) a role that may not run `command` at all, wherever: the
    check made before the request's body is validated, so that a role that may not
    send it learns nothing of what it should hold."""
    if command in ALLOWED and not allows(principal.role, command):
        raise ForbiddenError(f"a {principal.role} may not {command.replace('_', ' ')}")


def authorize(
    principal: Principal,
    command: str,
    *,
    place: Place | None = None,
    scope_path: Sequence[str] | None = None,
    owner: object = None,
) -> None:
    """Refuse (ForbiddenError) unless `principal` may run `command` on a target at
    `place` (None: the target has no place, or names none that exists) that belongs to
    the member `owner` (checked for the roles that act only on themselves);
    `scope_path` is the path of the token's scope."""
    role = principal.role
    refuse_role(principal, command)
    if is_platform(principal):
        return
    if role == OWN and not _same_member(principal.sub, owner):
        raise ForbiddenError(f"a {role} may {command.replace('_', ' ')} only for themselves")
    if place is not None and not place.within(principal.scope, scope_path):
        raise ForbiddenError(f"{place.path[-1]} lies outside this token's scope {principal.scope}")


def _same_member(sub: str, owner: object) -> bool:
    try:
        return owner is not None and UUID(sub) == UUID(str(owner))
    except ValueError:
        return False


def matrix_markdown() -> str:
    """The matrix as a Markdown table (the README's copy is checked against it)."""
    roles = [r for r in ROLES if r not in ("auditor", "evaluator")]
    lines = [
        "| command | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for command, allowed in ALLOWED.items():
        cells = [
            "yes" if role == "admin" else ("own" if role == OWN else "yes")
            if role in allowed else ""
            for role in roles
        ]  # fmt: skip
        lines.append(f"| `{command}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
