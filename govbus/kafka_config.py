"""librdkafka client settings for the bus's own clients: the bootstrap servers plus the
cluster's security settings (SASL/TLS) from ConnectionSettings, read once per process."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from govbus.config import ConnectionSettings, load


@lru_cache(maxsize=1)
def _security() -> tuple[tuple[str, str], ...]:
    return tuple(load(ConnectionSettings).kafka_security().items())


def client_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """``{"bootstrap.servers": ..., <security>, **extra}`` for a Producer, Consumer or
    AdminClient of the bus itself (not for departments' own credentials)."""
    return {"bootstrap.servers": bootstrap, **dict(_security()), **extra}
