"""Request counts and latencies per route, in the Prometheus text format."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            counts = self.latency.setdefault((method, route), [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-2] += 1
            counts[-1] += seconds

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """`app` wrapped so that each HTTP request is observed: a plain ASGI wrapper (a
        `BaseHTTPMiddleware` would add a task, a stream and a copy of every response to
        each request, which cost more than the rest of a GET)."""

        async def observed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500  # what the client gets if the app fails before it answers

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                route: Any = scope.get("route")
                path = getattr(route, "path", "unmatched")
                self.observe(scope["method"], path, status, time.perf_counter() - started)

        return observed

    def render(self) -> list[str]:
        lines = [
            "# HELP gridledger_http_requests_total HTTP requests by route and status.",
            "# TYPE gridledger_http_requests_total counter",
        ]
        with self._lock:
            requests = sorted(self.requests.items())
            latency = sorted((k, list(v)) for k, v in self.latency.items())
        for (method, route, status), n in requests:
            labels = f'method="{method}",route="{route}",status="{status}"'
            lines.append(f"gridledger_http_requests_total{{{labels}}} {n}")
        lines += [
            "# HELP gridledger_http_request_seconds HTTP request latency by route.",
            "# TYPE gridledger_http_request_seconds histogram",
        ]
        for (method, route), counts in latency:
            labels = f'method="{method}",route="{route}"'
            for bound, count in zip(BUCKETS, counts, strict=False):
                lines.append(
                    f'gridledger_http_request_seconds_bucket{{{labels},le="{bound}"}} {count:g}'
                )
            lines.append(
                f'gridledger_http_request_seconds_bucket{{{labels},le="+Inf"}} {counts[-2]:g}'
            )
            lines.append(f"gridledger_http_request_seconds_count{{{labels}}} {counts[-2]:g}")
            lines.append(f"gridledger_http_request_seconds_sum{{{labels}}} {counts[-1]:.6f}")
        return lines
