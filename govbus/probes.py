"""Readiness probes: does a service actually answer a request (not merely an open port).

A probe must reach a service the way the component it speaks for does: ``readiness`` builds its
Kafka, Redis and PostgreSQL clients from the same ConnectionSettings as the gateway and the
worker (SASL/TLS included), so a cluster that only accepts SASL_SSL is reported as it is."""

from __future__ import annotations

from typing import Any

import psycopg
import redis
from confluent_kafka.admin import AdminClient

from govbus.config import ConnectionSettings


def kafka_client_config(conn: ConnectionSettings) -> dict[str, Any]:
    """The bus's own librdkafka settings: bootstrap servers plus the cluster's security."""
    return {"bootstrap.servers": conn.bootstrap, **conn.kafka_security()}


def kafka_answers(config: dict[str, Any]) -> bool:
    """An AdminClient with ``config`` gets the cluster's metadata."""
    admin = AdminClient({**config, "socket.timeout.ms": 2000, "log_level": 0})
    try:
        admin.list_topics(timeout=3)
    except Exception:
        return False
    return True


def kafka_ready(conn: ConnectionSettings) -> bool:
    return kafka_answers(kafka_client_config(conn))


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


def readiness(conn: ConnectionSettings) -> dict[str, bool]:
    """Each backing service of the bus, as its components reach it."""
    return {
        "kafka": kafka_ready(conn),
        "redis": redis_ready(conn.redis),
        "postgres": pg_ready(conn.pg),
    }
