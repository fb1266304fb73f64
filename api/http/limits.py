"""Limits a client meets before it can cost the server much: body size, request rates.

`BodyLimit` refuses a request body larger than the setting `max_body_bytes` (413)
before anything parses it: a declared `Content-Length` over the limit is refused
unread, and a body sent without one (chunked) is counted as it arrives and refused as
soon as it passes the limit. `RateLimits` keeps a token bucket per token (by its `jti`)
for commands and for waiting queries; an empty bucket answers 429 with `Retry-After`.
The buckets live in each API process: with N processes behind a balancer a token may
send up to N times the rate (documented in the README).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MEDIA_TYPE = "application/problem+json"
MAX_BUCKETS = 100_000


class TooManyRequestsError(Exception):
    """Raised when a token has used up its rate of commands or waits (429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """A token bucket per key: `rate` a second, up to `burst` at once (rate 0: none)."""

    def __init__(
        self, what: str, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.what = what
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Take one from `key`'s bucket, or TooManyRequestsError saying when to retry."""
        if self.rate <= 0:
            return
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._buckets.clear()
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return
            wait = (1 - bucket.tokens) / self.rate
        raise TooManyRequestsError(
            f"this token may send {self.what} at {self.rate:g} a second (bursts of "
            f"{self.burst}); try again",
            retry_after=max(1, math.ceil(wait)),
        )


class RateLimits:
    """The buckets of one API process: commands, and queries that wait."""

    def __init__(self, commands: TokenBuckets, waits: TokenBuckets) -> None:
        self.commands = commands
        self.waits = waits


TooLarge = Callable[[str, int], tuple[bytes, str]]
"""A 413's body and media type for a request path and the limit (a facade with its own
error documents: Open311's)."""


def _too_large(limit: int) -> tuple[bytes, str]:
    body = json.dumps(
        {
            "type": "/problems/too-large",
            "title": "Request body too large",
            "status": 413,
            "detail": f"request bodies are limited to {limit} bytes",
        }
    ).encode()
    return body, MEDIA_TYPE


def _refusal(body: bytes, media_type: str) -> list[Message]:
    headers = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    return [
        {"type": "http.response.start", "status": 413, "headers": headers},
        {"type": "http.response.body", "body": body},
    ]


class BodyLimit:
    """ASGI middleware: the app sees a request only once its whole body is read and
    found within `limit` bytes; a larger one is answered 413 (problem+json, or under a
    path prefix of `documents`, the document its function writes)."""

    def __init__(
        self, app: ASGIApp, limit: int, documents: dict[str, TooLarge] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.documents = documents or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared_too_large(scope):
            await self._refuse(scope, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message | None = {"type": "http.request", "body": b"".join(chunks)}

        async def replay() -> Message:
            nonlocal whole
            if whole is not None:
                message, whole = whole, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    def _declared_too_large(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                return not value.isdigit() or int(value) > self.limit
        return False

    async def _refuse(self, scope: Scope, send: Send) -> None:
        path: str = scope.get("path", "")
        found = (f for prefix, f in self.documents.items() if path.startswith(prefix))
        document = next(found, None)
        if document is None:
            body, media_type = _too_large(self.limit)
        else:
            body, media_type = document(path, self.limit)
        for message in _refusal(body, media_type):
            await send(message)
