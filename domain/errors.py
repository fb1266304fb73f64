"""Every error the domain raises, in one hierarchy.

    DomainError                      anything the domain refuses; records nothing
    ├── NotFoundError                an id or code names nothing          (HTTP 404)
    ├── InvalidValueError            a value the domain cannot accept     (HTTP 422)
    ├── IdempotencyKeyReusedError    same key, different command          (HTTP 422)
    ├── RuleViolationError           a rule of the domain refuses         (HTTP 409)
    │   └── InvalidTransitionError   the current status forbids the action
    ├── ConcurrencyConflictError     retries exhausted on a stale save    (HTTP 409)
    └── NoActorError                 a command ran outside `acting(...)` (a bug)

Each error carries `rule`: a stable dotted code naming the rule that refused the
command (`ticket.transition`, `points.self_award`, ...), and a message saying why.
Specific errors below subclass one of these; each module's section is marked.
"""

from __future__ import annotations


class DomainError(Exception):
    """Raised when the domain refuses a command; nothing is recorded."""

    rule: str = "domain"

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if rule is not None:
            self.rule = rule


class NotFoundError(DomainError):
    """Raised when an id or code names nothing that exists."""

    rule = "not_found"

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} does not exist", rule=f"{kind.lower()}.exists")
        self.kind = kind
        self.key = key


class InvalidValueError(DomainError):
    """Raised when a command carries a value the domain cannot accept."""

    rule = "value"


class IdempotencyKeyReusedError(DomainError):
    """Raised when an idempotency key is reused for a different command or body."""

    rule = "idempotency.same_body"

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for a different request")


class RuleViolationError(DomainError):
    """Raised when a rule of the domain refuses the command."""

    rule = "rule"


class InvalidTransitionError(RuleViolationError):
    """Raised when an aggregate's current status does not allow the action."""

    def __init__(self, kind: str, action: str, status: str) -> None:
        super().__init__(
            f"cannot {action} a {kind} that is {status}",
            rule=f"{kind}.transition",
        )
        self.action = action
        self.status = status


class ConcurrencyConflictError(DomainError):
    """Raised when a command keeps meeting concurrent changes and gives up."""

    rule = "concurrency"


class NoActorError(DomainError):
    """Raised when an aggregate triggers an event outside an `acting(...)` context."""

    rule = "actor.required"

    def __init__(self) -> None:
        super().__init__("events can only be recorded on behalf of an actor")


# --- jurisdictions, members, organisations ---


class JurisdictionCodeTakenError(RuleViolationError):
    """Raised when a jurisdiction code is defined a second time."""

    rule = "jurisdiction.code_unique"

    def __init__(self, code: str) -> None:
        super().__init__(f"jurisdiction code {code!r} is already defined")


class JurisdictionKindError(RuleViolationError):
    """Raised when a jurisdiction's kind does not sit directly under its parent's kind."""

    rule = "jurisdiction.kind_under_parent"


class WrongJurisdictionKindError(RuleViolationError):
    """Raised when a command names a jurisdiction of the wrong kind (a grid for a community)."""

    rule = "jurisdiction.kind"


# --- activities ---

# --- pledges ---

# --- tickets ---

# --- rulebooks and points ---
