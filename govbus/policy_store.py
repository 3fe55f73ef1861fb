"""Subscriptions in the compacted policy topic: key = subscription id, value = its JSON
(a tombstone deletes it); inbound agreements with federated peers beside them, keyed
``inbound:<peer>:<subscription id>``. Writers: ``govbus policy apply`` and the gateway's admin API;
readers: every stream worker (hot reload) and the gateway."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable

from confluent_kafka import Producer

from govbus.config import StreamsSettings, load
from govbus.errors import ServiceUnavailableError
from govbus.kafka_admin import COMPACTED, ensure_topics
from govbus.kafka_config import client_config
from govbus.kafka_read import read_to_end
from govbus.policy import INBOUND_KEY_PREFIX, InboundAgreement, PolicyDocument, Subscription
from govbus.schemas.topics import delivery_topic

Entry = Subscription | InboundAgreement


def entry_key(entry: Entry) -> str:
    return entry.key if isinstance(entry, InboundAgreement) else entry.id


def encode(entry: Entry) -> tuple[bytes, bytes]:
    value = entry.model_dump_json(by_alias=True, exclude_none=True)
    return entry_key(entry).encode(), value.encode()


def etag(entry: Entry) -> str:
    """The entry's HTTP entity tag: a digest of its stored record (any change changes it)."""
    return '"' + hashlib.sha256(encode(entry)[1]).hexdigest()[:20] + '"'


def decode(key: bytes, value: bytes | None) -> tuple[str, Entry | None]:
    """A record of the policy topic; None for a tombstone. Raises ValueError when invalid."""
    entry_id = key.decode()
    if value is None:
        return entry_id, None
    if entry_id.startswith(INBOUND_KEY_PREFIX):
        agreement = InboundAgreement.model_validate(json.loads(value))
        if agreement.key != entry_id:
            raise ValueError(f"inbound agreement under the wrong key {entry_id}")
        return entry_id, agreement
    return entry_id, Subscription.model_validate(json.loads(value))


def document(entries: Iterable[Entry]) -> PolicyDocument:
    """The policy made of these entries, in a stable order."""
    entries = list(entries)
    return PolicyDocument(
        subscriptions=sorted(
            (e for e in entries if isinstance(e, Subscription)), key=lambda s: s.id
        ),
        inbound=sorted(
            (e for e in entries if isinstance(e, InboundAgreement)), key=lambda a: a.key
        ),
    )


def entries(doc: PolicyDocument) -> list[Entry]:
    return [*doc.subscriptions, *doc.inbound]


def ensure_policy_topics(
    bootstrap: str,
    policy_topic: str,
    subscribers: Iterable[str],
    *,
    partitions: int | None = None,
    replication: int | None = None,
) -> list[str]:
    """The policy topic and the subscribers' delivery topics; partitions and replication
    default to GOVBUS_PARTITIONS and GOVBUS_REPLICATION_FACTOR (one source for both)."""
    wanted: dict[str, dict[str, str]] = {policy_topic: COMPACTED}
    wanted.update({delivery_topic(s): {} for s in subscribers})
    streams = load(StreamsSettings)
    return ensure_topics(
        bootstrap,
        wanted,
        partitions=partitions or streams.partitions,
        replication=replication or streams.replication_factor,
    )


def write(
    bootstrap: str, policy_topic: str, subs: Iterable[Entry], deletions: Iterable[str] = ()
) -> int:
    """Upsert subscriptions and inbound agreements (and tombstone keys); waits for acks=all.
    Returns records written."""
    subs = list(subs)
    ensure_policy_topics(
        bootstrap, policy_topic, {s.subscriber for s in subs if isinstance(s, Subscription)}
    )
    producer = Producer(client_config(bootstrap, **{"enable.idempotence": True, "acks": "all"}))
    failures: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    count = 0
    for sub in subs:
        key, value = encode(sub)
        producer.produce(policy_topic, value, key, on_delivery=on_delivery)
        count += 1
    for sub_id in deletions:
        producer.produce(policy_topic, None, sub_id.encode(), on_delivery=on_delivery)
        count += 1
    if producer.flush(30) or failures:
        raise ServiceUnavailableError(f"policy not fully written: {failures or 'timeout'}")
    return count


def read(bootstrap: str, policy_topic: str) -> PolicyDocument:
    """The current policy (latest record per key; invalid records skipped)."""
    current: dict[str, Entry] = {}
    for msg in read_to_end(bootstrap, policy_topic):
        try:
            sub_id, sub = decode(msg.key() or b"", msg.value())
        except ValueError:
            continue
        if sub is None:
            current.pop(sub_id, None)
        else:
            current[sub_id] = sub
    return document(current.values())


def revoked(sub: Subscription, reason: str) -> Subscription:
    return sub.model_copy(
        update={"status": "revoked", "rejection_reason": reason, "expires": dt.datetime.now(dt.UTC)}
    )
