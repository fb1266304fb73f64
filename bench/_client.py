"""A keep-alive HTTP client of the API and the tokens it carries, for bench/ scripts
(imported after bench/http.py has the standard library's `http` in place)."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

from api.http.auth import issue_token

SECRET = "bench-http-secret-of-at-least-32-bytes-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def token(role: str = "admin", scope: str = "D") -> str:
    return issue_token(SECRET.encode(), sub=f"staff:bench-{role}", role=role, scope=scope)


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, port: int, bearer: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        try:
            self.conn.request(method, path, body=data, headers=self.headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.conn.close()  # the server closed an idle keep-alive connection
            self.conn.request(method, path, body=data, headers=self.headers)
            response = self.conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        if status not in (200, 201):
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return answer
