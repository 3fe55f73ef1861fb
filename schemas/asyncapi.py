"""An AsyncAPI 3.0 document derived from the catalogue: one channel per event topic with its
Avro payload and Kafka binding, plus the bus's own channels (deliveries, dead letters)."""

from __future__ import annotations

import re
from typing import Any

from govbus.schemas.catalogue import Catalogue, EventType
from govbus.schemas.topics import DELIVER_PREFIX, DLQ

AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
KAFKA_BINDING = "0.5.0"

_HEADERS = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka binary content mode.",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Event id; (source, id) is unique."},
        "ce_source": {
            "type": "string",
            "description": "Publishing department id, or <peer>/<department> for an event "
            "relayed from a federated bus.",
        },
        "ce_type": {"type": "string", "description": "gov.<domain>.<event>.v<N>"},
        "ce_subject": {
            "type": "string",
            "description": "Leave it out: the bus computes the subject's keyed pseudonym from "
            "the record. If sent, it must be the bus's own or the event is dead-lettered "
            "(envelope.subject_mismatch).",
        },
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_dataschema": {"type": "string"},
        "ce_correlationid": {"type": "string", "description": "One 'get one thing done' case."},
        "ce_causationid": {"type": "string", "description": "The event that caused this one."},
        "traceparent": {"type": "string", "description": "W3C trace context."},
    },
}


def _message_id(event: EventType) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", event.ce_type)


def _message(event: EventType) -> dict[str, Any]:
    return {
        "name": event.ce_type,
        "title": event.schema["name"],
        "summary": event.doc,
        "contentType": "application/avro",
        "headers": _HEADERS,
        "payload": {"schemaFormat": AVRO_FORMAT, "schema": event.schema},
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": "Partition key: the bucket of the subject "
                    "(govbus.adapters.publisher.partition_key), no identifier. The bus uses it "
                    "for nothing else.",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
        "x-govbus-owner": event.owner,
        "x-govbus-sharing": event.sharing,
        "x-govbus-legal-basis": event.legal_basis,
    }


def asyncapi_document(catalogue: Catalogue, *, version: str, server: str) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event in catalogue:
        mid = _message_id(event)
        messages[mid] = _message(event)
        ref = {"$ref": f"#/components/messages/{mid}"}
        channels[mid] = {
            "address": event.topic,
            "title": event.ce_type,
            "description": f"Published by {event.owner}. {event.doc}",
            "messages": {mid: ref},
            "bindings": {"kafka": {"topic": event.topic, "bindingVersion": KAFKA_BINDING}},
        }
        operations[f"publish_{mid}"] = {
            "action": "send",
            "title": f"{event.owner} publishes {event.ce_type}",
            "channel": {"$ref": f"#/channels/{mid}"},
            "messages": [{"$ref": f"#/channels/{mid}/messages/{mid}"}],
        }
    channels["delivery"] = {
        "address": DELIVER_PREFIX + "{subscriber}",
        "description": "Per-subscriber deliveries: only the granted fields, masked; the payload "
        "schema is the projected schema named by ce_dataschema (in govbus.schemas).",
        "parameters": {"subscriber": {"description": "Subscribing department id."}},
    }
    channels["dead_letters"] = {
        "address": DLQ,
        "description": "Rejected inputs: original bytes and headers plus govbus_dlq_reason.",
    }
    operations["receive_delivery"] = {
        "action": "receive",
        "title": "A subscriber reads its own delivery topic",
        "channel": {"$ref": "#/channels/delivery"},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "govbus event catalogue",
            "version": version,
            "description": "Government data-sharing events. Every field is classified; "
            "subscribers receive projections defined by policy.",
        },
        "defaultContentType": "application/avro",
        "servers": {"local": {"host": server, "protocol": "kafka", "description": "govbus dev up"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
