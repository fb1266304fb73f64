"""Bearer tokens: HS256 JWTs naming who acts (`sub`), as what (`role`) and where (`scope`).

Every token must also name its audience (`aud`) and issuer (`iss`) as the settings
say, when it was issued (`iat`), when it expires (`exp`, at most `token_max_hours`
later) and its id (`jti`), by which it can be revoked (api.runtime.revocations).

The secret comes from `GRIDLEDGER_JWT_SECRET`. In development, with none set, one is
made once in `<data_dir>/jwt_secret` (mode 0600) and reused; production refuses to
start with a missing or weak (< 32 bytes) secret.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from uuid import UUID, uuid4

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.runtime.settings import Settings
from domain.context import Actor

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
ROLES = (
    "admin",
    "street_staff",
    "department_staff",
    "community_staff",
    "grid_worker",
    "resident",
    "auditor",
    "evaluator",
)
STAFF_ROLES = tuple(r for r in ROLES if r not in ("resident", "auditor", "evaluator"))
"""Roles that act for staff: their sub must name a member id or a `staff:` id."""
STAFF_SPACE = "staff:"


def canonical_sub(sub: str) -> str:
    """`sub` as actors are recorded and compared: a member id in one spelling (lower-case
    hyphenated UUID; so `ABCD...` and `{abcd...}` are one person to the self-dealing
    rules, which compare recorded actor ids as text), anything else stripped."""
    sub = sub.strip()
    try:
        return str(UUID(sub))
    except ValueError:
        return sub


def staff_sub_problem(role: str, sub: str) -> str | None:
    """Why `sub` may not act as `role`, or None. A staff role's sub names a member id (a
    UUID: the self-dealing rules then know the person) or a staff id, `staff:<id>`
    (which can never equal a member id); a bare name is refused, for it would be read
    as neither."""
    if role not in STAFF_ROLES:
        return None
    try:
        UUID(sub)
    except ValueError:
        if sub.startswith(STAFF_SPACE) and sub[len(STAFF_SPACE) :].strip():
            return None
        return (
            f"a {role} token's sub names a member id (a UUID) or a staff id "
            f"(staff:<id>), not {sub!r}"
        )
    return None


class WeakSecretError(RuntimeError):
    """Raised when production starts without a JWT secret of at least 32 bytes."""


class AuthenticationError(Exception):
    """Raised when a request carries no token, or one that is invalid or expired (401)."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a token's claims."""

    sub: str
    role: str
    scope: str
    token_id: str = ""
    """The token's `jti`: what rate limits and revocation know it by."""

    @property
    def actor(self) -> Actor:
        return Actor(id=self.sub, role=self.role)


def resolve_secret(settings: Settings) -> bytes:
    """The signing key: from settings, else (development only) the data dir's own."""
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value().encode()
        if settings.mode == "production" and len(secret) < MIN_SECRET_BYTES:
            raise WeakSecretError(
                f"GRIDLEDGER_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes"
            )
        return secret
    if settings.mode == "production":
        raise WeakSecretError("GRIDLEDGER_JWT_SECRET must be set in production")
    return _development_secret(settings.data_dir / "jwt_secret")


def _development_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_bytes().strip()


@dataclass(frozen=True)
class TokenPolicy:
    """What a token must say to be accepted: its audience and issuer, and the longest
    lifetime (exp - iat) it may have; and the token ids revoked so far."""

    audience: str = "gridledger"
    issuer: str = "gridledger"
    max_hours: float = 24.0
    revoked: Callable[[str], bool] = lambda _: False

    @classmethod
    def of(cls, settings: Settings, revoked: Callable[[str], bool] | None = None) -> TokenPolicy:
        return cls(
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            max_hours=settings.token_max_hours,
            revoked=revoked or (lambda _: False),
        )


DEFAULT_POLICY = TokenPolicy()


def issue_token(
    secret: bytes,
    *,
    sub: str,
    role: str,
    scope: str,
    hours: float = 12,
    now: datetime | None = None,
    policy: TokenPolicy = DEFAULT_POLICY,
) -> str:
    """A signed token for `sub` acting as `role` within the subtree of `scope` (`*`:
    everywhere, for a platform admin), with a fresh token id (`jti`)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if hours > policy.max_hours:
        raise ValueError(f"a token may last at most {policy.max_hours:g} hours")
    issued = now or datetime.now(UTC)
    claims = {
        "sub": sub,
        "role": role,
        "scope": scope,
        "aud": policy.audience,
        "iss": policy.issuer,
        "jti": str(uuid4()),
        "iat": issued,
        "exp": issued + timedelta(hours=hours),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


MAX_VERIFIED = 10_000
_verified: dict[tuple[bytes, str, str, float, str], tuple[Principal, float]] = {}
"""Tokens verified so far, by key, policy and text: their principal and expiry (epoch s)."""


def read_token(
    secret: bytes,
    token: str,
    *,
    now: Callable[[], float] = time.time,
    policy: TokenPolicy = DEFAULT_POLICY,
) -> Principal:
    """The principal a token names; AuthenticationError if it is not valid `now`.

    A client sends the same token with every request, and verifying it (decode, HMAC,
    claims) costs more than the rest of a small request: a token verified once is kept
    with its expiry and answered from memory until then, refused after it as a fresh
    verification would. Only valid tokens are kept (at most MAX_VERIFIED, then the
    memory starts afresh): an invalid one is verified, and refused, each time. Whether
    its id was revoked is asked every time (a set lookup: see api.runtime.revocations)."""
    key = (secret, policy.audience, policy.issuer, policy.max_hours, token)
    known = _verified.get(key)
    if known is None:
        known = _verify(secret, token, policy)
        if len(_verified) >= MAX_VERIFIED:
            _verified.clear()
        _verified[key] = known
    principal, expires = known
    if now() >= expires:
        _verified.pop(key, None)
        raise AuthenticationError("invalid token: Signature has expired")
    if policy.revoked(principal.token_id):
        raise AuthenticationError("invalid token: it has been revoked")
    return principal


def _verify(secret: bytes, token: str, policy: TokenPolicy) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=policy.audience,
            issuer=policy.issuer,
            options={"require": ["sub", "role", "scope", "exp", "iat", "aud", "iss", "jti"]},
        )
    except jwt.PyJWTError as error:
        raise AuthenticationError(f"invalid token: {error}") from None
    sub, role, scope, jti = claims["sub"], claims["role"], claims["scope"], claims["jti"]
    if not all(isinstance(v, str) and v.strip() for v in (sub, role, scope, jti)):
        raise AuthenticationError("invalid token: sub, role, scope and jti must be non-empty text")
    if role not in ROLES:
        raise AuthenticationError(f"invalid token: unknown role {role!r}")
    problem = staff_sub_problem(role, sub.strip())
    if problem is not None:
        raise AuthenticationError(f"invalid token: {problem}")
    lifetime = float(claims["exp"]) - float(claims["iat"])
    if lifetime > policy.max_hours * 3600 + 1:
        raise AuthenticationError(f"invalid token: it lasts longer than {policy.max_hours:g} hours")
    principal = Principal(sub=canonical_sub(sub), role=role, scope=scope.strip(), token_id=jti)
    return principal, float(claims["exp"])


bearer = HTTPBearer(auto_error=False, description="A token from `gridledger token`.")


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The bearer token a request carries; 401 without one."""
    if credentials is None:
        raise AuthenticationError("a bearer token is required")
    return credentials.credentials


def principal_of(request: Request, token: str) -> Principal:
    """Who `token` names, checked with the app's secret and token policy."""
    state = request.app.state
    return read_token(state.secret, token, policy=state.token_policy)


async def authenticate(  # async: no worker thread (see api.http.deps)
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    return principal_of(request, bearer_token(credentials))


PrincipalDep = Annotated[Principal, Depends(authenticate)]
