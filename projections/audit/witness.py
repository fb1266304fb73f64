"""`gridledger witness`: a small c2sp.org/tlog-witness process an auditor runs.

It holds its own cosigner key (`PRIVATE+KEY+<name>+<keyid>+<base64(0x04 || seed)>`,
made once in the key file if absent), the verifier keys of the logs it watches (the
origin of each is its key's name) and a state file: for each origin, the size and root
of the last checkpoint it cosigned (JSON, written atomically and fsynced before it
answers). `POST /add-checkpoint` is answered by `witness_protocol.handle_add_checkpoint`
under one lock, so the check of the old size and the update of the state are atomic;
it cosigns only a consistent extension (409 for an old size that is not its own or a
same-size fork, 422 for a proof that does not verify).
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from projections.audit.note import Ed25519Verifier
from projections.audit.tlog_cosignature import CosignerKey
from projections.audit.witness_protocol import LogState, handle_add_checkpoint

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


def cosigner_key(path: Path, name: str | None) -> CosignerKey:
    """The witness's key from `path`, made there (mode 0600) under `name` if absent."""
    if not path.exists():
        if name is None:
            raise ValueError(f"{path} does not exist: give --name to make a witness key")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(CosignerKey.generate(name).skey() + "\n")
    return CosignerKey.from_skey(path.read_text().strip())


class Witness:
    """The witness's keys and state; `add` answers one request body."""

    def __init__(self, key: CosignerKey, logs: Sequence[Ed25519Verifier], state: Path) -> None:
        self.key = key
        self.logs = {v.name: [v] for v in logs}
        self.state = state
        self.lock = threading.Lock()
        state.parent.mkdir(parents=True, exist_ok=True)
        self._held = state.with_name(state.name + ".lock").open("a")
        fcntl.flock(self._held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # one process per state file
        self.latest = self._load()

    def _load(self) -> dict[str, LogState]:
        if not self.state.exists():
            return {}
        data = json.loads(self.state.read_text())
        return {
            origin: LogState(int(v["size"]), base64.b64decode(v["root"]))
            for origin, v in data["logs"].items()
        }

    def _save(self) -> None:
        data = {
            "logs": {
                origin: {"size": s.size, "root": base64.b64encode(s.root_hash).decode()}
                for origin, s in self.latest.items()
            }
        }
        temporary = self.state.with_name(self.state.name + ".new")
        with temporary.open("w") as file:
            json.dump(data, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.state)

    def add(self, body: bytes) -> tuple[int, bytes, str]:
        """(status, body, content type) for one add-checkpoint request."""
        with self.lock:
            answer, state = handle_add_checkpoint(
                body, self.logs, self.latest, [self.key], int(time.time())
            )
            if state is not None:
                origin = _origin(body)
                self.latest[origin] = state
                self._save()
                log.info("cosigned %s at tree size %s", origin, state.size)
            elif answer.status != 200:
                log.warning("refused a checkpoint (%s): %s", answer.status, answer.body.decode())
        return answer.status, answer.body, answer.content_type or "text/plain; charset=utf-8"

    def close(self) -> None:
        self._held.close()


def _origin(body: bytes) -> str:
    """The origin line of the (already parsed and accepted) request's checkpoint."""
    return body.partition(b"\n\n")[2].split(b"\n", 1)[0].decode()


def serve(witness: Witness, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server answering `POST /add-checkpoint` (call `serve_forever`)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/add-checkpoint":
                self._answer(404, b"not found\n", "text/plain; charset=utf-8")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._answer(400, b"a body of 1 to 65536 bytes is required\n", "text/plain")
                return
            self._answer(*witness.add(self.rfile.read(length)))

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s " + format, self.address_string(), *args)

    return ThreadingHTTPServer((host, port), Handler)
