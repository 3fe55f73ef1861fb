"""Read and ack audit records from the gateway: who read which delivery, when, with which
request. One hash chain per gateway process (a new chain each start)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

from confluent_kafka import Producer

from govbus.kafka_config import client_config
from govbus.schemas.audit import AuditRecord, ChainState, Kind, append_json
from govbus.schemas.topics import AUDIT


class GatewayAudit:
    def __init__(self, bootstrap: str, instance_id: str) -> None:
        self.chain = f"gateway|{instance_id}|{uuid.uuid4().hex[:12]}"
        self.state = ChainState()
        self._lock = threading.Lock()
        self._producer = Producer(
            {
                **client_config(bootstrap),
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
            }
        )

    def record(
        self,
        kind: Kind,
        *,
        subscriber: str,
        delivery_id: str = "",
        detail: str = "",
        trace_id: str = "",
    ) -> None:
        with self._lock:
            sealed = append_json(
                self.state,
                AuditRecord(
                    kind=kind,
                    at=dt.datetime.now(dt.UTC).isoformat(),
                    chain=self.chain,
                    seq=0,
                    subscriber=subscriber,
                    delivery_id=delivery_id,
                    detail=detail,
                    trace_id=trace_id,
                ),
            )
            self._producer.produce(AUDIT, sealed, self.chain.encode())
        self._producer.poll(0)

    def flush(self) -> None:
        self._producer.flush(10)
