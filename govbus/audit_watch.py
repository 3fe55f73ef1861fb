"""A continuous check of the audit trail: every record a follower of the audit topic reads
(the trace indexer) is checked against the previous one of its chain and its own hash;
records that do not fit count in ``govbus.audit.chain_breaks`` and are logged (chain and
seq, never content). ``govbus audit verify`` remains the full check: it also compares each
worker chain's committed head, which catches a removed tail."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from govbus.audit_log import Positioned
from govbus.schemas.audit import ChainWatch
from govbus.telemetry import AuditMetrics

log = logging.getLogger(__name__)
LOGGED_PER_BATCH = 20


class ChainMonitor:
    def __init__(self, metrics: AuditMetrics | None = None) -> None:
        self.metrics = metrics or AuditMetrics()
        self._watch = ChainWatch()

    def __call__(self, batch: Sequence[Positioned]) -> list[str]:
        """The problems ``batch`` shows (counted: one per record that does not fit)."""
        found = [(p, self._watch.check(p.record)) for p in batch]
        broken = [(p, problems) for p, problems in found if problems]
        if broken:
            self.metrics.chain_breaks.add(len(broken))
        for p, problems in broken[:LOGGED_PER_BATCH]:
            log.error(
                "audit chain broken at %s[%d]@%d: %s",
                "govbus.audit",
                p.partition,
                p.offset,
                "; ".join(problems),
            )
        return [problem for _, problems in broken for problem in problems]

    def forget(self) -> None:
        """After a rebalance: records may come again or after a gap another reader saw."""
        self._watch.forget()
