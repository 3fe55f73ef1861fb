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
