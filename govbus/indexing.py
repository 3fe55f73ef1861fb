"""Run the indexes that answer questions without scanning Kafka: disclosures and the trace
index (from the audit topic) and licence validity (from the licence registry's
deliveries)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from govbus.audit_watch import ChainMonitor
from govbus.disclosures import DisclosureIndexer, DisclosureStore
from govbus.heartbeat import beat
from govbus.licences import LicenceIndexer, LicenceStore
from govbus.trace_index import TraceIndexer, TraceIndexStore


class Indexes:
    def __init__(self, bootstrap: str, dsn: str) -> None:
        self.disclosures = DisclosureStore(dsn)
        self.licences = LicenceStore(dsn)
        self.traces = TraceIndexStore(dsn)
        self.disclosures.init()
        self.licences.init()
        self.traces.init()
        self.disclosure_indexer = DisclosureIndexer(bootstrap, self.disclosures)
        self.licence_indexer = LicenceIndexer(bootstrap, self.licences)
        self.trace_indexer = TraceIndexer(bootstrap, self.traces, monitor=ChainMonitor())
        self._indexers = (self.disclosure_indexer, self.licence_indexer, self.trace_indexer)

    def catch_up(
        self, idle_steps: int = 3, progress: Callable[[int], None] = lambda _: None
    ) -> int:
        """Index until both are at the end of what is there now; returns records indexed."""
        total = 0
        # One after the other: an idle indexer's poll waits out its timeout, which would
        # otherwise throttle a busy one to a batch per timeout.
        for step in (indexer.step for indexer in self._indexers):
            idle = 0
            while idle < idle_steps:
                done = step()
                total += done
                idle = 0 if done else idle + 1
                progress(total)
        return total

    def run_forever(self, heartbeat: Path | None = None) -> None:
        """The indexers in threads; ``heartbeat`` is touched while all are alive (for the
        liveness probe, `govbus health indexer`)."""
        threads = [
            threading.Thread(target=indexer.run, name=type(indexer).__name__)
            for indexer in self._indexers
        ]
        for thread in threads:
            thread.start()
        try:
            while all(t.is_alive() for t in threads):
                if heartbeat is not None:
                    beat(heartbeat)
                time.sleep(1)
        finally:
            for indexer in self._indexers:
                indexer.stop.set()
            for thread in threads:
                thread.join(timeout=10)

    def close(self) -> None:
        for indexer in self._indexers:
            indexer.close()
