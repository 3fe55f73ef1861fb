"""The gateway's HTTP API (FastAPI): a lifespan that owns the clients, request limits,
problem+json errors, and the routers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool

from govbus.config import ConnectionSettings, GatewaySettings, KeySettings, load
from govbus.delivery_reader import DeliveryDecoder
from govbus.disclosures import DisclosureStore
from govbus.gateway import (
    access_log,
    approval_metrics,
    console,
    http_telemetry,
    routes_admin,
    routes_citizens,
    routes_events,
    routes_inbound,
    routes_ops,
    routes_publish,
    routes_standards,
)
from govbus.gateway.assertions import CitizenAssertions
from govbus.gateway.audit import GatewayAudit
from govbus.gateway.auth import Authenticator
from govbus.gateway.clientlimit import ClientLimiter
from govbus.gateway.consume import Consumption
from govbus.gateway.deps import Publishers, Services
from govbus.gateway.keystore import KeyStore
from govbus.gateway.policy_writes import PolicyWriter
from govbus.gateway.problems import Problem, install, problem_response
from govbus.gateway.ratelimit import RateLimiter
from govbus.gateway.recheck import Rechecks
from govbus.licences import LicenceStore
from govbus.probes import readiness
from govbus.pseudonym import Pseudonymizer
from govbus.trace_index import TraceLookup

# A client's X-Request-ID is copied into audit records and logs: only short, plain ones are
# kept; any other is replaced by a fresh id (returned in the response's X-Request-ID).
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def build_services(conn: ConnectionSettings, settings: GatewaySettings) -> Services:
    """The gateway's clients, built from its settings (what the lifespan owns)."""
    keys = KeyStore(
        conn.pg,
        settings.api_key_pepper.get_secret_value().encode(),
        positive_ttl_s=settings.key_cache_s,
        negative_ttl_s=settings.key_negative_cache_s,
    )
    keys.init()
    keys.open_pool(settings.key_pool_size)
    shared_redis = redis.Redis.from_url(conn.redis, socket_timeout=2)
    disclosures, licences = DisclosureStore(conn.pg), LicenceStore(conn.pg)
    disclosures.init()
    licences.init()
    auth = Authenticator(
        keys,
        settings.jwt_public_keys,
        settings.jwt_issuer,
        settings.jwt_audience,
        settings.jwks_url,
        bureau=settings.bureau_department,
    )
    traces = TraceLookup(conn.bootstrap, conn.pg)
    traces.store.init()
    return Services(
        settings=settings,
        auth=auth,
        limiter=RateLimiter(
            shared_redis,
            settings.rate_limit_per_minute,
            settings.quota_per_day,
        ),
        consumption=Consumption(
            conn.bootstrap, DeliveryDecoder(conn.bootstrap), settings.window_events
        ),
        audit=GatewayAudit(conn.bootstrap, settings.instance_id),
        publishers=Publishers(),
        keys=keys,
        bootstrap=conn.bootstrap,
        policy_topic=conn.policy_topic,
        disclosures=disclosures,
        licences=licences,
        pseudonymizer=Pseudonymizer(load(KeySettings)),
        assertions=CitizenAssertions(
            settings.citizen_assertion_keys,
            settings.citizen_assertion_issuer,
            settings.citizen_assertion_audience,
            settings.citizen_assertion_max_age_s,
            shared_redis,
        ),
        rechecks=Rechecks(auth),
        policy=PolicyWriter(
            conn.pg, conn.bootstrap, conn.policy_topic, wait_s=settings.policy_write_wait_s
        ),
        traces=traces,
    )


def create_app(
    conn: ConnectionSettings | None = None,
    settings: GatewaySettings | None = None,
    services: Services | None = None,
) -> FastAPI:
    """The gateway. ``services``: its clients (key store, rate limiter, Kafka reader, stores...)
    handed in, e.g. in-memory fakes for in-process route tests; by default the lifespan builds
    them from ``conn`` and ``settings``. Routes reach them through ``deps.services``, a FastAPI
    dependency that tests may also override."""
    conn = conn or load(ConnectionSettings)
    settings = settings or load(GatewaySettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = build_services(conn, settings)
        keys = app.state.services.keys
        with approval_metrics.watching(conn.bootstrap, conn.policy_topic, settings):
            yield
        app.state.services.publishers.close()
        app.state.services.consumption.close()
        app.state.services.audit.flush()
        app.state.services.traces.close()
        app.state.services.policy.close()
        keys.close()

    app = FastAPI(
        title="govbus gateway",
        version="0.1.0",
        lifespan=lifespan if services is None else None,  # handed in: nothing to build
        description="Subscribing departments read only their own deliveries.",
        docs_url=None,  # served below from local assets, not a CDN
        redoc_url=None,
    )
    routes_standards.install_docs(app)
    if services is not None:
        app.state.services = services
    install(app)
    access_log.install()
    http_telemetry.instrument(app)
    clients = ClientLimiter(settings.client_rate_per_second, settings.client_burst)

    @app.middleware("http")
    async def request_limits(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get("x-request-id", "")
        request.state.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        wait = clients.retry_after(request.client.host if request.client else "-")
        if wait > 0:
            return problem_response(
                request,
                429,
                "client-rate-limited",
                f"more than {settings.client_rate_per_second:g} requests a second from your "
                "address",
                headers={"Retry-After": str(max(1, round(wait + 0.5)))},
            )
        length = request.headers.get("content-length")
        if length is None and request.method in ("POST", "PUT", "PATCH"):
            # A chunked body could otherwise slip past the size limit.
            return problem_response(
                request, 411, "length-required", "send Content-Length with a request body"
            )
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            return problem_response(
                request,
                413,
                "body-too-large",
                f"bodies are limited to {settings.max_body_bytes} bytes",
            )
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> dict[str, str]:
        """Readiness: Kafka, Redis and PostgreSQL answer real requests."""
        checks = await run_in_threadpool(readiness, conn)
        down = [name for name, ok in checks.items() if not ok]
        if down:
            raise Problem(503, "not-ready", f"not answering: {', '.join(down)}")
        return {"status": "ready"}

    app.include_router(routes_events.router)
    app.include_router(routes_events.schemas_router)
    app.include_router(routes_publish.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_inbound.router)
    app.include_router(routes_citizens.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_standards.router)
    console.install(app)
    return app
