"""Request counts and latencies per route, in the Prometheus text format."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

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

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        self.observe(request.method, path, response.status_code, time.perf_counter() - started)
        return response

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
            for bound, n in zip(BUCKETS, counts, strict=False):
                lines.append(
                    f'gridledger_http_request_seconds_bucket{{{labels},le="{bound}"}} {n:g}'
                )
            lines.append(
                f'gridledger_http_request_seconds_bucket{{{labels},le="+Inf"}} {counts[-2]:g}'
            )
            lines.append(f"gridledger_http_request_seconds_count{{{labels}}} {counts[-2]:g}")
            lines.append(f"gridledger_http_request_seconds_sum{{{labels}}} {counts[-1]:.6f}")
        return lines
