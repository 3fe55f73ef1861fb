"""Read your delivery topic directly from Kafka with your department's SCRAM user
(`govbus acl user <dept>` prints its password; `govbus acl sync` grants READ on
govbus.deliver.<dept>, govbus.schemas and consumer groups named <dept>.*).

    KAFKA_BOOTSTRAP=broker:9094 DEPARTMENT=tax KAFKA_PASSWORD=... \
        python examples/kafka_consumer.py

Values are Avro single-object encoded (0xC3 0x01, the 8-byte schema fingerprint, the
body); the delivery schemas are the records of the compacted topic govbus.schemas, keyed by
fingerprint (hex). Headers carry the CloudEvents attributes (ce_id, ce_type, ...) and
ce_govbuscorrects (your delivery id of the event amended) and ce_govbusretract for
corrections and retractions.
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Any

import fastavro
from confluent_kafka import Consumer, TopicPartition

MAGIC = b"\xc3\x01"


def scram(group: str | None = None) -> dict[str, Any]:
    department = os.environ["DEPARTMENT"]
    config: dict[str, Any] = {
        "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP"],
        "security.protocol": "SASL_PLAINTEXT",  # SASL_SSL on a real network
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": department,
        "sasl.password": os.environ["KAFKA_PASSWORD"],
        "group.id": group or f"{department}.example",  # your groups start with '<dept>.'
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",  # the bus writes deliveries in transactions
    }
    return config


def delivery_schemas() -> dict[bytes, Any]:
    """Fingerprint -> parsed schema, from govbus.schemas (read to its end)."""
    topic = TopicPartition("govbus.schemas", 0)
    consumer = Consumer(scram(f"{os.environ['DEPARTMENT']}.schemas-{os.getpid()}"))
    try:
        low, high = consumer.get_watermark_offsets(topic, 10)
        consumer.assign([TopicPartition(topic.topic, 0, low)])
        schemas: dict[bytes, Any] = {}
        offset = low
        while offset < high - 1:
            msg = consumer.poll(5)
            if msg is None:
                break  # transaction markers can end the topic: nothing more to read
            if msg.error() is not None:
                continue
            offset = msg.offset()
            if msg.key() and msg.value():
                schemas[bytes.fromhex(msg.key().decode())] = fastavro.parse_schema(
                    json.loads(msg.value())
                )
        return schemas
    finally:
        consumer.close()


def main(max_messages: int | None = None) -> int:
    department = os.environ["DEPARTMENT"]
    schemas = delivery_schemas()
    consumer = Consumer(scram())
    consumer.subscribe([f"govbus.deliver.{department}"])
    seen = 0
    try:
        while max_messages is None or seen < max_messages:
            msg = consumer.poll(5)
            if msg is None:
                continue
            if msg.error() is not None:
                print(f"error: {msg.error()}", file=sys.stderr)
                return 1
            value = msg.value() or b""
            headers = {k: (v or b"").decode() for k, v in msg.headers() or []}
            if value[:2] != MAGIC or value[2:10] not in schemas:
                schemas = delivery_schemas()  # a schema published after we started
            record = fastavro.schemaless_reader(io.BytesIO(value[10:]), schemas[value[2:10]])
            amends = headers.get("ce_govbuscorrects")
            kind = "retraction" if headers.get("ce_govbusretract") else "correction"
            print(headers.get("ce_id"), headers.get("ce_type"), amends and f"{kind} of {amends}")
            print("   ", record)
            consumer.commit(msg)  # after handling it
            seen += 1
        return 0
    finally:
        consumer.close()


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else None))
