"""Readiness probes: does a service actually answer a request (not merely an open port)."""

from __future__ import annotations

import psycopg
import redis
from confluent_kafka.admin import AdminClient


def kafka_ready(bootstrap: str) -> bool:
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000, "log_level": 0})
    try:
        admin.list_topics(timeout=3)
    except Exception:
        return False
    return True


def kafka_brokers(bootstrap: str) -> set[int]:
    """The broker ids the cluster's metadata lists; empty if it does not answer."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000, "log_level": 0})
    try:
        return set(admin.list_topics(timeout=3).brokers)
    except Exception:
        return set()


def partition_leader(bootstrap: str, topic: str, partition: int) -> int | None:
    """The broker id leading this partition, per fresh metadata; None if it has no leader
    (or the cluster does not answer)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000, "log_level": 0})
    try:
        meta = admin.list_topics(topic, timeout=5).topics[topic].partitions[partition]
    except Exception:
        return None
    return int(meta.leader) if meta.leader >= 0 else None


def redis_ready(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def pg_ready(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.Error:
        return False
