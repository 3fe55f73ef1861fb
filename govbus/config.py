"""Settings for every component, read from ``GOVBUS_*`` environment variables.

Each component has one settings class; every field carries its doc so the
operator docs can be generated from this module (``govbus config docs``).
Defaults are safe for a local run on the embedded runtime.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from govbus.errors import ConfigError

DEV_ONLY_SECRET = "govbus-local-development-only-not-a-secret"  # noqa: S105 - a labelled dev default


def _host_name(fallback: str) -> str:
    """The container's or pod's name: unique per replica, stable for a StatefulSet pod."""
    return os.environ.get("HOSTNAME") or fallback


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "govbus"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "govbus"


_S = TypeVar("_S", bound=BaseSettings)


class SecretFileSource(PydanticBaseSettingsSource):
    """``GOVBUS_<SECRET>_FILE=/path`` reads a secret from a file (a mounted Kubernetes or
    compose secret), so secrets need not sit in the environment. Applies to secret fields
    only; the variable itself, when set, wins."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        path = os.environ.get(f"GOVBUS_{field_name.upper()}_FILE")
        if path is None or not _is_secret(field):
            return None, field_name, False
        try:
            return Path(path).read_text(encoding="utf-8").strip(), field_name, False
        except OSError as exc:
            raise ConfigError(
                f"GOVBUS_{field_name.upper()}_FILE: cannot read {path}: {exc.strerror}"
            ) from None

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                out[key] = value
        return out


def _is_secret(field: FieldInfo) -> bool:
    return "SecretStr" in repr(field.annotation)


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVBUS_", extra="ignore", frozen=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, SecretFileSource(settings_cls), file_secret_settings)


class LocalRuntimeSettings(_Base):
    """The embedded local runtime started by ``govbus dev up`` (no Docker)."""

    state_dir: Path = Field(
        default_factory=_default_state_dir,
        description="Logs, pids, Kafka/Redis data of the local runtime.",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Downloaded Kafka jars (kept across runs).",
    )
    pg_data_dir: Path = Field(
        default=Path("/var/tmp/govbus-pg"),  # noqa: S108 - a data dir, not a temp file
        description="PostgreSQL data dir; outside $HOME because the server runs as the "
        "'postgres' user when started by root.",
    )
    kafka_version: str = Field(default="3.9.2", description="Apache Kafka broker version (Maven).")
    kafka_port: int = Field(default=19092, description="Local broker PLAINTEXT port.")
    kafka_controller_port: int = Field(default=19093, description="Local KRaft controller port.")
    kafka_sasl_port: int = Field(default=19094, description="Local SASL_PLAINTEXT port (--secure).")
    redis_port: int = Field(default=16379, description="Local Redis port.")
    pg_port: int = Field(default=15432, description="Local PostgreSQL port.")
    kafka_heap: str = Field(default="768m", description="Broker JVM max heap.")
    kafka_brokers: int = Field(
        default=1,
        ge=1,
        le=4,
        description="Nodes of the local Kafka (`govbus dev up --brokers N`): each a broker and "
        "a KRaft controller, node i on the Kafka ports + 10 * i. With 3 or more, internal "
        "topics have 3 replicas and min.insync.replicas 2.",
    )

    def kafka_node_port(self, port: int, node: int) -> int:
        """Node ``node``'s port for one of the configured Kafka ports: 10 apart per node, so a
        cluster stays well below the ports of a peer runtime beside this one (+100)."""
        return port + 10 * node

    @property
    def local_bootstrap(self) -> str:
        """Every local node's PLAINTEXT listener."""
        return ",".join(
            f"127.0.0.1:{self.kafka_node_port(self.kafka_port, n)}"
            for n in range(self.kafka_brokers)
        )


class ConnectionSettings(_Base):
    """Where the bus's services are. Unset means: the local runtime."""

    kafka_bootstrap: str | None = Field(
        default=None, description="Kafka bootstrap servers, e.g. 'kafka-0:9092,kafka-1:9092'."
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL, e.g. 'redis://host:6379/0'."
    )
    pg_dsn: SecretStr | None = Field(
        default=None, description="PostgreSQL DSN for the outbox and the disclosure index."
    )
    schema_registry_url: str | None = Field(
        default=None,
        description="Confluent-compatible schema registry; when set, publishers write the "
        "Confluent wire format (magic 0 + schema id) and workers read it. Unset: Avro "
        "single-object encoding, no registry needed.",
    )
    catalogue_dir: Path | None = Field(
        default=None,
        description="A directory of further event types (`.avsc` files and their "
        "`catalogue.lock.json`), added to the shipped catalogue by every component that "
        "reads it: a new event type needs no release of govbus (docs/event-types.md).",
    )
    policy_topic: str = Field(
        default="govbus.policy",
        description="Compacted topic holding the subscriptions (one record per subscription).",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="How the bus's own clients reach Kafka; use SASL_SSL on shared clusters.",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user of the bus.")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password (or GOVBUS_KAFKA_SASL_PASSWORD_FILE)."
    )
    kafka_ssl_ca_location: Path | None = Field(
        default=None, description="CA bundle (PEM) that signed the brokers' certificates."
    )

    def kafka_security(self) -> dict[str, str]:
        """librdkafka settings for the bus's own Kafka clients (empty for PLAINTEXT)."""
        out: dict[str, str] = {}
        if self.kafka_security_protocol != "PLAINTEXT":
            out["security.protocol"] = self.kafka_security_protocol.lower()
        if self.kafka_security_protocol.startswith("SASL"):
            if not self.kafka_sasl_username or self.kafka_sasl_password is None:
                raise ConfigError(
                    "GOVBUS_KAFKA_SASL_USERNAME and GOVBUS_KAFKA_SASL_PASSWORD are required "
                    f"with {self.kafka_security_protocol}"
                )
            out["sasl.mechanism"] = self.kafka_sasl_mechanism
            out["sasl.username"] = self.kafka_sasl_username
            out["sasl.password"] = self.kafka_sasl_password.get_secret_value()
        if self.kafka_ssl_ca_location is not None:
            out["ssl.ca.location"] = str(self.kafka_ssl_ca_location)
        return out

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or LocalRuntimeSettings().local_bootstrap

    @property
    def redis(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{LocalRuntimeSettings().redis_port}/0"

    @property
    def pg(self) -> str:
        if self.pg_dsn is not None:
            return self.pg_dsn.get_secret_value()
        return f"postgresql://govbus@127.0.0.1:{LocalRuntimeSettings().pg_port}/govbus"


class KeySettings(_Base):
    """Secrets for keyed pseudonyms. Provide real ones outside local runs."""

    pseudonym_key: SecretStr = Field(
        default=SecretStr(DEV_ONLY_SECRET),
        description="Master key from which per-subscriber HMAC keys are derived.",
    )
    pseudonym_key_id: str = Field(default="dev1", description="Id of the pseudonym master key.")
    subject_key: SecretStr = Field(
        default=SecretStr(DEV_ONLY_SECRET),
        description="Bus-wide key for subject pseudonyms (audit, disclosure index); the bus "
        "alone holds it (workers, gateway, indexer), never a publisher.",
    )

    delivery_id_key: SecretStr = Field(
        default=SecretStr(DEV_ONLY_SECRET),
        description="Key of the delivery ids (HMAC): without it nobody can compute a "
        "department's id of an event from the event id. Keep it stable: redeliveries, "
        "corrections and federated peers name events by these ids.",
    )

    dev_keys: bool = Field(
        default=False,
        description="Allow the built-in development keys where a key is unset (the local "
        "runtime and the tests set it). Unset, the worker and the gateway refuse to start "
        "without real keys: a bus on the development subject key would file everyone's "
        "disclosures under subjects no real bus computes.",
    )

    @property
    def unset_keys(self) -> list[str]:
        """The keys left at the development default, by variable name."""
        keys = {
            "GOVBUS_PSEUDONYM_KEY": self.pseudonym_key,
            "GOVBUS_SUBJECT_KEY": self.subject_key,
            "GOVBUS_DELIVERY_ID_KEY": self.delivery_id_key,
        }
        return [name for name, key in keys.items() if key.get_secret_value() == DEV_ONLY_SECRET]

    @property
    def uses_dev_defaults(self) -> bool:
        return bool(self.unset_keys)

    def require_real(self, component: str) -> None:
        """Refuse to run ``component`` on development keys unless GOVBUS_DEV_KEYS allows it:
        a missing secret never degrades silently."""
        if self.unset_keys and not self.dev_keys:
            raise ConfigError(
                f"{component} needs the bus's keys: set {', '.join(self.unset_keys)} (or "
                "<NAME>_FILE); GOVBUS_DEV_KEYS=true allows the development keys on a local run"
            )


class StreamsSettings(_Base):
    """The stream worker (Faust)."""

    app_id: str = Field(default="govbus-streams", description="Faust app id = consumer group.")
    worker_id: str = Field(
        default_factory=lambda: _host_name("local-1"),
        description="Name of this worker in logs and metrics. Default: $HOSTNAME (the pod "
        "name), else local-1. (Transactional ids are per task, not per worker.)",
    )
    event_partitions: int = Field(
        default=12,
        ge=1,
        description="Partitions of every event topic (the upper bound on worker parallelism). "
        "All event topics must have this same count: workers are assigned the same partition "
        "number of every event topic and fence per partition number, so `govbus streams "
        "init` and the worker refuse event topics with another count (`init "
        "--grow-partitions` adds partitions).",
    )
    partitions: int = Field(
        default=3,
        ge=1,
        description="Partitions of the delivery, dead-letter and audit topics govbus creates "
        "(event topics: GOVBUS_EVENT_PARTITIONS).",
    )
    replication_factor: int = Field(default=1, ge=1, description="Replication of created topics.")
    batch_size: int = Field(default=500, ge=1, description="Most events in one batch.")
    bulk_batch_size: int = Field(
        default=1000,
        ge=1,
        description="Most events in one batch of the bulk lane (govbus.bulk.* topics; batch "
        "files load there). Larger batches load faster; the real-time lane has its own runner "
        "and waits at most for one bulk batch's share of the CPU.",
    )
    batch_within_s: float = Field(
        default=0.005,
        ge=0,
        description="A batch closes this long after its first event (or when full).",
    )
    session_timeout_s: float = Field(
        default=30.0,
        ge=3,
        description="How long a silent worker keeps its tasks before the group moves them "
        "(Kafka session timeout). A worker that wakes up later is fenced.",
    )
    max_event_bytes: int = Field(default=1_000_000, ge=1024, description="Larger events go to DLQ.")
    dedupe_window_s: int = Field(default=7 * 24 * 3600, ge=60, description="Dedupe key lifetime.")
    correction_window_s: int = Field(
        default=400 * 24 * 3600,
        ge=60,
        description="How long the bus remembers who received an event, so a correction can "
        "reach exactly them; a correction after this is dead-lettered.",
    )
    data_dir: Path = Field(
        default_factory=lambda: _default_state_dir() / "faust",
        description="Faust's local data dir (one sub-dir per app id).",
    )
    policy_file: Path | None = Field(
        default=None, description="Static policy YAML (until the policy topic is configured)."
    )

    @field_validator("worker_id", "app_id")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not value.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError("use letters, digits, '-', '_' and '.' only")
        return value


class GatewaySettings(_Base):
    """The HTTP gateway for subscribers, publishers and admins."""

    gateway_host: str = Field(default="127.0.0.1", description="Bind address.")
    gateway_port: int = Field(default=8080, description="Bind port.")
    instance_id: str = Field(
        default_factory=lambda: _host_name("gw-1"),
        description="Names this instance's audit chain; unique per replica. Default: "
        "$HOSTNAME (the pod name), else gw-1.",
    )
    api_key_pepper: SecretStr = Field(
        default=SecretStr(DEV_ONLY_SECRET),
        description="Server-side secret mixed into API key hashes (keys are stored hashed).",
    )
    jwt_public_keys: list[Path] = Field(
        default_factory=list, description="PEM public keys accepted for bearer JWTs."
    )
    jwks_url: str | None = Field(
        default=None, description="JWKS URL of the identity provider (keys chosen by `kid`)."
    )
    jwt_issuer: str | None = Field(default=None, description="Required `iss` of bearer JWTs.")
    jwt_audience: str = Field(default="govbus", description="Required `aud` of bearer JWTs.")
    max_body_bytes: int = Field(default=256_000, ge=1024, description="Larger bodies get 413.")
    jaeger_url: str = Field(
        default="http://localhost:16686",
        description="Trace UI base URL; the console's trace view links each trace there.",
    )
    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests per department per minute (429 beyond)."
    )
    quota_per_day: int | None = Field(
        default=None, ge=1, description="Requests per department per day (429 beyond); unset: none."
    )
    pull_max: int = Field(default=500, ge=1, description="Upper bound of `limit` on pulls.")
    window_events: int = Field(
        default=2000,
        ge=1,
        description="Deliveries kept in memory per read window and partition (up to 4 "
        "windows per department), so that concurrent readers near the same position (SSE "
        "streams, pulls) share one Kafka read.",
    )
    bureau_department: str = Field(
        default="data_bureau",
        description="The department id of the data-management bureau (the platform "
        "operator): its admins issue keys for any department and administer inbound "
        "agreements; they approve nothing on a provider's behalf (docs/security.md).",
    )
    approval_working_days: int = Field(
        default=10,
        ge=1,
        description="Working days a provider has to answer its part of a conditional "
        "subscription request, counted from the day after the request.",
    )
    holidays: list[dt.date] = Field(
        default_factory=list,
        description="Public holidays that are not working days for the answer deadline "
        '(JSON list of dates, e.g. ["2026-10-01","2026-10-02"]); weekends never are.',
    )
    working_day_timezone: str = Field(
        default="Asia/Shanghai", description="Time zone in which working days are counted."
    )
    client_rate_per_second: float = Field(
        default=100.0,
        gt=0,
        description="Requests per second per client address, refused (429) before any "
        "credential is checked; per gateway instance (in memory).",
    )
    client_burst: int = Field(
        default=400, ge=1, description="Requests a client address may send at once."
    )
    key_cache_s: float = Field(
        default=2.0,
        ge=0,
        le=10,
        description="Seconds an accepted API key is trusted without asking PostgreSQL "
        "again: a revocation on another instance takes effect within this.",
    )
    key_negative_cache_s: float = Field(
        default=30.0, ge=0, description="Seconds a refused API key is refused from memory."
    )
    key_pool_size: int = Field(
        default=8, ge=1, description="PostgreSQL connections for key checks per instance."
    )
    policy_write_wait_s: float = Field(
        default=15.0,
        gt=0,
        le=120,
        description="Admin writes to one subscription take turns; a write that cannot get "
        "its turn within this many seconds gets 409 write-conflict (retry).",
    )
    stream_recheck_s: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="An open SSE stream or a waiting long-poll pull re-checks its credential "
        "at least this often (and before every page it sends after waiting); a revoked key "
        "or expired token ends it.",
    )
    citizen_assertion_keys: list[Path] = Field(
        default_factory=list,
        description="PEM public keys of the citizen portal's login service; a disclosure "
        "report needs an assertion (JWT) signed with one of them.",
    )
    citizen_assertion_issuer: str | None = Field(
        default=None, description="Required `iss` of citizen assertions."
    )
    citizen_assertion_audience: str = Field(
        default="govbus-disclosures", description="Required `aud` of citizen assertions."
    )
    citizen_assertion_max_age_s: int = Field(
        default=300,
        ge=10,
        le=3600,
        description="Longest lifetime (exp - iat) a citizen assertion may have; each is "
        "accepted once.",
    )
    disclosure_per_caller_per_minute: int = Field(
        default=60, ge=1, description="Disclosure reports per citizen-portal credential a minute."
    )
    disclosure_per_subject_per_hour: int = Field(
        default=10, ge=1, description="Disclosure reports about one identifier an hour."
    )


class FederationSettings(_Base):
    """The federation bridge: this bus's deliveries from a peer province's bus, ingested here."""

    peer_name: str | None = Field(
        default=None,
        description="This bus's name for the peer (events arrive from `<peer>/<department>`).",
    )
    peer_gateway_url: str | None = Field(
        default=None, description="The peer's gateway, e.g. https://bus.province-a.example."
    )
    peer_api_key: SecretStr | None = Field(
        default=None, description="This bus's API key at the peer's gateway (it is a subscriber)."
    )
    peer_pull_limit: int = Field(default=200, ge=1, description="Events per pull from the peer.")
    peer_wait_s: float = Field(
        default=5.0, ge=0, le=30, description="Long-poll seconds of a pull from the peer."
    )


def load(cls: type[_S]) -> _S:
    """Build a settings object, turning validation failures into one clear ConfigError."""
    try:
        return cls()
    except ValidationError as exc:
        problems = "; ".join(
            f"GOVBUS_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
