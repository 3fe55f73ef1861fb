"""A trace lookup keeps only the records about the event asked for (pure)."""

from __future__ import annotations

from govbus.audit_log import concerning
from govbus.schemas.audit import AuditRecord


def test_records_found_at_stale_positions_are_left_out() -> None:
    def rec(kind: str, event_id: str, delivery_id: str = "") -> AuditRecord:
        return AuditRecord(
            kind=kind, at="", chain="c", seq=0, event_id=event_id, delivery_id=delivery_id
        )

    mine = [rec("accepted", "e1"), rec("delivered", "e1", "d1"), rec("read", "", "d1")]
    others = [rec("accepted", "e2"), rec("delivered", "e2", "d2"), rec("read", "", "d2")]
    assert concerning("e1", mine + others) == mine
