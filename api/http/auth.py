"""Bearer tokens: HS256 JWTs naming who acts (`sub`), as what (`role`) and where (`scope`).

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


def issue_token(
    secret: bytes,
    *,
    sub: str,
    role: str,
    scope: str,
    hours: float = 12,
    now: datetime | None = None,
) -> str:
    """A signed token for `sub` acting as `role` within the subtree of `scope`."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    issued = now or datetime.now(UTC)
    claims = {
        "sub": sub,
        "role": role,
        "scope": scope,
        "iat": issued,
        "exp": issued + timedelta(hours=hours),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


MAX_VERIFIED = 10_000
_verified: dict[tuple[bytes, str], tuple[Principal, float]] = {}
"""Tokens verified so far, by key and text: their principal and expiry (epoch s)."""


def read_token(secret: bytes, token: str, *, now: Callable[[], float] = time.time) -> Principal:
    """The principal a token names; AuthenticationError if it is not valid `now`.

    A client sends the same token with every request, and verifying it (decode, HMAC,
    claims) costs more than the rest of a small request: a token verified once is kept
    with its expiry and answered from memory until then, refused after it as a fresh
    verification would. Only valid tokens are kept (at most MAX_VERIFIED, then the
    memory starts afresh): an invalid one is verified, and refused, each time."""
    key = (secret, token)
    known = _verified.get(key)
    if known is not None:
        principal, expires = known
        if now() < expires:
            return principal
        _verified.pop(key, None)
        raise AuthenticationError("invalid token: Signature has expired")
    principal, expires = _verify(secret, token)
    if len(_verified) >= MAX_VERIFIED:
        _verified.clear()
    _verified[key] = (principal, expires)
    return principal


def _verify(secret: bytes, token: str) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "role", "scope", "exp"]},
        )
    except jwt.PyJWTError as error:
        raise AuthenticationError(f"invalid token: {error}") from None
    sub, role, scope = claims["sub"], claims["role"], claims["scope"]
    if not all(isinstance(v, str) and v.strip() for v in (sub, role, scope)):
        raise AuthenticationError("invalid token: sub, role and scope must be non-empty text")
    if role not in ROLES:
        raise AuthenticationError(f"invalid token: unknown role {role!r}")
    return Principal(sub=sub.strip(), role=role, scope=scope.strip()), float(claims["exp"])


_bearer = HTTPBearer(auto_error=False, description="A token from `gridledger token`.")


async def authenticate(  # async: no worker thread (see api.http.deps)
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise AuthenticationError("a bearer token is required")
    return read_token(request.app.state.secret, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(authenticate)]
