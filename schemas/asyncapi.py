"""An AsyncAPI 3.0 document derived from the catalogue: one channel per event topic with its
Avro payload and Kafka binding, plus the bus's own channels (deliveries, dead letters)."""

from __future__ import annotations

import re
from typing import Any

from govbus.schemas.catalogue import Catalogue, EventType
from govbus.schemas.topics import DELIVER_PREFIX, DLQ

AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
KAFKA_BINDING = "0.5.0"

_HEADERS: dict[str, Any] = {
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
        "ce_govbuscorrects": {
            "type": "string",
            "description": "A correction: the id of the earlier event of the same source "
            "whose facts this one replaces (on a delivery: your own delivery id of it).",
        },
        "ce_govbusretract": {
            "type": "string",
            "const": "true",
            "description": "With ce_govbuscorrects: the earlier event is withdrawn "
            "altogether (a retraction), not amended.",
        },
        "traceparent": {"type": "string", "description": "W3C trace context."},
    },
}
_DELIVERY_HEADERS: dict[str, Any] = {
    **_HEADERS,
    "description": "CloudEvents 1.0 attributes of a delivery, in Kafka binary content mode.",
    "properties": {
        **_HEADERS["properties"],
        "ce_id": {"type": "string", "description": "Your delivery id (keyed per subscriber)."},
        "ce_subject": {"type": "string", "description": "Your pseudonym of the subject."},
        "ce_dataschema": {
            "type": "string",
            "description": "govbus:schema:<fingerprint>: the projected Avro schema, at "
            "GET /v1/schemas/<fingerprint> on the gateway.",
        },
        "govbus_subscription": {"type": "string", "description": "Your subscription id."},
        "content-type": {"type": "string", "const": "application/avro"},
    },
}
# One delivery as the gateway renders it (CloudEvents JSON format).
_CLOUDEVENT_JSON: dict[str, Any] = {
    "type": "object",
    "required": ["specversion", "id", "source", "type", "time", "dataschema", "govbuscursor"],
    "properties": {
        "specversion": {"type": "string", "const": "1.0"},
        "id": {"type": "string", "description": "Your delivery id."},
        "source": {"type": "string"},
        "type": {"type": "string"},
        "subject": {"type": "string", "description": "Your pseudonym of the subject."},
        "time": {"type": "string", "format": "date-time"},
        "dataschema": {
            "type": "string",
            "format": "uri",
            "description": "GET it for the Avro schema of the data.",
        },
        "datacontenttype": {"type": "string"},
        "data": {"type": "object", "description": "Your fields, masked as agreed."},
        "data_base64": {"type": "string", "description": "With data=avro: the Avro bytes."},
        "govbussubscription": {"type": "string"},
        "govbuscorrects": {
            "type": "string",
            "description": "Your delivery id of the event this one corrects or retracts.",
        },
        "govbusamendment": {"type": "string", "enum": ["correction", "retraction"]},
        "traceparent": {"type": "string"},
        "govbuscursor": {"type": "string", "description": "Ack it once processed."},
    },
}
HTTP_BINDING = "0.3.0"


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


def _delivery_message(event: EventType) -> dict[str, Any]:
    """A delivery of ``event``: some of its fields (those granted), each masked as agreed;
    the exact Avro schema is the projection named by ce_dataschema."""
    fields = {
        name: {
            "description": f"{spec.doc} ({spec.classification}; present only if granted, "
            "masked as the subscription says)",
        }
        for name, spec in event.fields.items()
    }
    return {
        "name": f"delivery {event.ce_type}",
        "title": f"{event.schema['name']} as delivered",
        "summary": f"Your projection of {event.ce_type}; a correction carries ce_govbuscorrects.",
        "contentType": "application/avro",
        "headers": _DELIVERY_HEADERS,
        "payload": {"type": "object", "additionalProperties": False, "properties": fields},
    }


def _http_channels(gateway: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The gateway's pull and SSE channels: channels, operations, messages."""
    page = {
        "name": "delivery page",
        "title": "A page of your deliveries",
        "contentType": "application/json",
        "payload": {
            "type": "object",
            "required": ["events", "cursor"],
            "properties": {
                "events": {"type": "array", "items": _CLOUDEVENT_JSON},
                "cursor": {"type": "string"},
            },
        },
        "bindings": {"http": {"statusCode": 200, "bindingVersion": HTTP_BINDING}},
    }
    sse = {
        "name": "govbus.delivery",
        "title": "One delivery as a server-sent event (id: the cursor after it)",
        "contentType": "text/event-stream",
        "payload": _CLOUDEVENT_JSON,
    }
    gateway_ref = [{"$ref": "#/servers/gateway"}]
    channels = {
        "http_pull": {
            "address": "/v1/events",
            "title": "HTTP pull",
            "description": f"GET {gateway}/v1/events?cursor=&limit=&wait= with your API key; "
            "POST /v1/events/ack {cursor} once processed. Accept application/avro for the "
            "page as Avro.",
            "servers": gateway_ref,
            "messages": {"page": {"$ref": "#/components/messages/delivery_page"}},
        },
        "sse": {
            "address": "/v1/events/stream",
            "title": "Server-sent events",
            "description": "Reconnect with Last-Event-ID to resume exactly.",
            "servers": gateway_ref,
            "messages": {"delivery": {"$ref": "#/components/messages/sse_delivery"}},
        },
    }
    operations = {
        "pull_deliveries": {
            "action": "receive",
            "title": "A subscriber pulls its deliveries",
            "channel": {"$ref": "#/channels/http_pull"},
            "bindings": {"http": {"method": "GET", "bindingVersion": HTTP_BINDING}},
        },
        "stream_deliveries": {
            "action": "receive",
            "title": "A subscriber streams its deliveries",
            "channel": {"$ref": "#/channels/sse"},
            "bindings": {"http": {"method": "GET", "bindingVersion": HTTP_BINDING}},
        },
    }
    return channels, operations, {"delivery_page": page, "sse_delivery": sse}


def asyncapi_document(
    catalogue: Catalogue, *, version: str, server: str, gateway: str = "http://127.0.0.1:8080"
) -> dict[str, Any]:
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
            "servers": [{"$ref": "#/servers/local"}],
            "messages": {mid: ref},
            "bindings": {"kafka": {"topic": event.topic, "bindingVersion": KAFKA_BINDING}},
        }
        operations[f"publish_{mid}"] = {
            "action": "send",
            "title": f"{event.owner} publishes {event.ce_type}",
            "channel": {"$ref": f"#/channels/{mid}"},
            "messages": [{"$ref": f"#/channels/{mid}/messages/{mid}"}],
        }
    delivery_refs = {}
    for event in catalogue:
        mid = "delivery_" + _message_id(event)
        messages[mid] = _delivery_message(event)
        delivery_refs[mid] = {"$ref": f"#/components/messages/{mid}"}
    channels["delivery"] = {
        "address": DELIVER_PREFIX + "{subscriber}",
        "description": "Per-subscriber deliveries: only the granted fields, masked; the payload "
        "schema is the projected schema named by ce_dataschema (in govbus.schemas).",
        "servers": [{"$ref": "#/servers/local"}],
        "parameters": {"subscriber": {"description": "Subscribing department id."}},
        "messages": delivery_refs,
    }
    messages["dead_letter"] = {
        "name": "dead letter",
        "summary": "The original bytes and headers plus govbus_dlq_reason and its message.",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": ["govbus_dlq_reason"],
            "properties": {
                "govbus_dlq_reason": {
                    "type": "string",
                    "description": "e.g. identifier.citizen_id",
                },
            },
        },
        "payload": {"type": "string", "format": "binary"},
    }
    channels["dead_letters"] = {
        "address": DLQ,
        "description": "Rejected inputs: original bytes and headers plus govbus_dlq_reason.",
        "servers": [{"$ref": "#/servers/local"}],
        "messages": {"dead_letter": {"$ref": "#/components/messages/dead_letter"}},
    }
    operations["receive_delivery"] = {
        "action": "receive",
        "title": "A subscriber reads its own delivery topic",
        "channel": {"$ref": "#/channels/delivery"},
        "messages": [{"$ref": f"#/channels/delivery/messages/{mid}"} for mid in delivery_refs],
    }
    http_channels, http_operations, http_messages = _http_channels(gateway)
    channels.update(http_channels)
    operations.update(http_operations)
    messages.update(http_messages)
    host = gateway.split("://", 1)[-1]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "govbus event catalogue",
            "version": version,
            "description": "Government data-sharing events. Every field is classified; "
            "subscribers receive projections defined by policy.",
        },
        "defaultContentType": "application/avro",
        "servers": {
            "local": {"host": server, "protocol": "kafka", "description": "govbus dev up"},
            "gateway": {
                "host": host,
                "protocol": "https" if gateway.startswith("https") else "http",
                "description": "The HTTP gateway (API key or bearer JWT).",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
