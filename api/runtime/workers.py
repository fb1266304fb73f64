"""The projections and the deadline watcher, run in background threads of the API
process (the embedded default; production runs them as `gridledger project` and
`gridledger watch` processes instead)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from domain.application import Governance
from projections.audit.signer import LogSigner, sign_while
from projections.audit.witnessing import WitnessConfig, publish
from projections.deadlines.index import DeadlineIndex
from projections.deadlines.watcher import DeadlineWatcher
from projections.engine.runner import Runner, Target
from projections.registry import all_projections


class Workers:
    """Starts and stops the projection runner and the deadline watcher threads."""

    def __init__(
        self,
        url: str,
        governance: Governance,
        watch_interval: float,
        checkpoints: tuple[LogSigner, int] | None = None,
        witnesses: Sequence[WitnessConfig] = (),
        retention_days: int | None = None,
    ) -> None:
        """`checkpoints`: the signer and the number of events after which to sign the
        next checkpoint (None: sign none); `witnesses`: where to submit each;
        `retention_days`: see the watcher."""
        self.url = url
        self.checkpoints = checkpoints
        self.witnesses = witnesses
        self.runner = Runner(
            url, governance.mapper, [Target(p) for p in all_projections().values()]
        )
        self.watcher = DeadlineWatcher(
            governance, DeadlineIndex(url, governance), retention_days=retention_days
        )
        self.watch_interval = watch_interval
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Create the query tables if need be, then follow the log in the background."""
        self.runner.prepare()
        self._threads = [
            threading.Thread(
                target=self.runner.follow,
                kwargs={"idle_wait": 0.5},
                name="gridledger-projections",
                daemon=True,
            ),
            threading.Thread(
                target=self.watcher.run_forever,
                args=(self.watch_interval,),
                name="gridledger-watcher",
                daemon=True,
            ),
        ]
        if self.checkpoints is not None:
            self._threads.append(
                threading.Thread(target=self._sign, name="gridledger-checkpoints", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def _sign(self) -> None:
        assert self.checkpoints is not None
        witnesses = self.witnesses

        def published(conn: Any, made: Any) -> None:
            publish(conn, made, witnesses)

        sign_while(self.url, *self.checkpoints, self.runner.stopping, published=published)

    def stop(self) -> None:
        self.runner.stop()
        self.watcher.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self.runner.close()
