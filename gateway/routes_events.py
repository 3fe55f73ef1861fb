"""Subscriber routes: pull, ack, stream (SSE), replay. Each reads only the caller's own
delivery topic, derived from its authenticated department."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sse_starlette import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from govbus import telemetry
from govbus.delivery_reader import Received
from govbus.gateway import cursor as cursors
from govbus.gateway import media
from govbus.gateway.auth import Principal
from govbus.gateway.consume import Page
from govbus.gateway.deps import Services, ServicesDep, SubscriberDep, parse_cursor
from govbus.gateway.held import HeldRead
from govbus.gateway.media import negotiate
from govbus.gateway.problems import PROBLEM_RESPONSES, Problem
from govbus.schemas.envelope import SCHEMA_REF_PREFIX
from govbus.schemas.jsonvalues import to_json
from govbus.schemas.projection import SUBSCRIBER_ATTR

router = APIRouter(prefix="/v1/events", tags=["subscribers"], responses=PROBLEM_RESPONSES)


class AckRequest(BaseModel):
    cursor: str = Field(min_length=1, max_length=4096)


class PulledPage(BaseModel):
    """A page of deliveries (documentation of the pull response, rendered by hand below)."""

    events: list[dict[str, Any]] = Field(description="CloudEvents JSON, oldest first")
    cursor: str = Field(description="where the next pull starts; ack it once processed")


def schema_url(dataschema: str, base: str) -> str:
    """``govbus:schema:<fingerprint>`` (as on the delivery topic) as the gateway URL that
    serves that schema; with no ``base``, or any other value, unchanged."""
    fingerprint = dataschema.removeprefix(SCHEMA_REF_PREFIX)
    if base and fingerprint and fingerprint != dataschema:
        return f"{base.rstrip('/')}/v1/schemas/{fingerprint}"
    return dataschema


def _attributes(item: Received, base: str) -> dict[str, Any]:
    """The CloudEvents attributes every rendering of a delivery carries."""
    env = item.envelope
    return {
        "id": env.id,
        "source": env.source,
        "type": env.ce_type,
        "subject": env.subject,
        "time": env.time.isoformat(),
        "dataschema": schema_url(env.dataschema, base),
    }


def cloudevent_body(item: Received, *, avro: bool = False, base: str = "") -> dict[str, Any]:
    """CloudEvents JSON format, without the reader's cursor. With ``avro`` the data is the
    delivered Avro single-object bytes in ``data_base64``. ``dataschema`` is the URL of the
    data's Avro schema on the gateway at ``base`` (GET /v1/schemas/{fingerprint})."""
    env = item.envelope
    event: dict[str, Any] = {
        "specversion": "1.0",
        **_attributes(item, base),
        "govbussubscription": item.subscription,
    }
    if item.traceparent:  # CloudEvents distributed-tracing extension
        event["traceparent"] = item.traceparent
    if env.corrects:  # your delivery id of the event this one corrects or retracts
        event["govbuscorrects"] = env.corrects
        event["govbusamendment"] = env.amendment
    if avro:
        event["datacontenttype"] = "application/avro"
        event["data_base64"] = base64.b64encode(item.raw).decode()
    else:
        event["datacontenttype"] = "application/json"
        event["data"] = to_json(item.record)
    return event


def cloudevent_json(item: Received, cursor: str, *, avro: bool = False, base: str = "") -> str:
    """The event as JSON text with ``govbuscursor``, the cursor (token) after it. What every reader
    shares is rendered once per delivery (measured: with 100 SSE readers, rendering each
    event per reader was a large part of the gateway's time); only the cursor is per reader."""
    variant = ("avro" if avro else "json") + base
    head = item.rendered.get(variant)
    if head is None:
        head = json.dumps(cloudevent_body(item, avro=avro, base=base), ensure_ascii=False)[:-1]
        item.rendered[variant] = head
    # Cursor tokens are URL-safe base64: nothing in them needs JSON escaping.
    return f'{head}, "govbuscursor": "{cursor}"}}'


def held_read(svc: Services, who: Principal, *, strict: bool) -> HeldRead:
    return HeldRead(
        svc.consumption, svc.rechecks, who, every_s=svc.settings.stream_recheck_s, strict=strict
    )


def audit_reads(svc: Services, who: Principal, page: Page, request: Request) -> None:
    for item, _ in page.events:
        svc.audit.record(
            "read",
            subscriber=who.department,
            delivery_id=item.envelope.id,
            detail=f"{who.credential} request {request.state.request_id}",
            trace_id=telemetry.trace_id_of(item.traceparent),
        )


@router.get("", response_model=PulledPage)
async def pull(
    request: Request,
    svc: ServicesDep,
    who: SubscriberDep,
    *,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    wait: Annotated[float, Query(ge=0, le=30, description="long-poll seconds")] = 0,
    from_time: Annotated[dt.datetime | None, Query(description="replay from (RFC 3339)")] = None,
    data: Annotated[
        Literal["json", "avro"],
        Query(description="in JSON pages: data as JSON, or its Avro bytes in data_base64"),
    ] = "json",
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Your deliveries after ``cursor`` (or after your last ack, or from ``from_time``).
    Pass the returned cursor to the next pull, and ack it once processed.

    ``Accept: application/json`` (the default): CloudEvents JSON; with ``data=avro`` each
    event carries its Avro bytes in ``data_base64``. ``Accept: application/avro`` (or
    ``application/vnd.apache.avro+binary``, ``avro/binary``): the page as an Avro object
    container file holding one ``DeliveryPage`` record (schema embedded), each event's data
    its Avro single-object bytes. Any other type: 406."""
    chosen = negotiate(accept)
    if chosen is None:
        raise Problem(406, "not-acceptable", f"pages are offered as {media.OFFERED}")
    if limit > svc.settings.pull_max:
        raise Problem(422, "limit-too-large", f"limit is at most {svc.settings.pull_max}")
    reader = held_read(svc, who, strict=False)  # a long-poll ends once the key is revoked
    page = await reader.page(parse_cursor(cursor), limit=limit, wait_s=wait, from_time=from_time)
    audit_reads(svc, who, page, request)
    base = str(request.base_url)
    variant, media_type = chosen
    if variant == "avro":
        records = [avro_record(item, cursors.encode(after), base) for item, after in page.events]
        body = media.avro_page(records, cursors.encode(page.cursor))
        return Response(body, media_type=media_type)
    events = ", ".join(
        cloudevent_json(item, cursors.encode(after), avro=data == "avro", base=base)
        for item, after in page.events
    )
    text = f'{{"events": [{events}], "cursor": "{cursors.encode(page.cursor)}"}}'
    return Response(text.encode(), media_type=media_type)


def avro_record(item: Received, cursor: str, base: str) -> dict[str, Any]:
    """One event of an Avro ``DeliveryPage`` (gateway/media.py)."""
    env = item.envelope
    return {
        **_attributes(item, base),
        "subscription": item.subscription,
        "traceparent": item.traceparent or None,
        "corrects": env.corrects,
        "amendment": env.amendment,
        "cursor": cursor,
        "data": item.raw,
    }


@router.post("/ack", status_code=204)
async def ack(body: AckRequest, svc: ServicesDep, who: SubscriberDep) -> Response:
    """Record that everything up to ``cursor`` was processed (at-least-once)."""
    positions = parse_cursor(body.cursor) or {}
    await run_in_threadpool(svc.consumption.ack, who.department, positions)
    svc.audit.record(
        "acked", subscriber=who.department, detail=f"{who.credential} cursor {body.cursor[:200]}"
    )
    return Response(status_code=204)


@router.get("/stream")
async def stream(
    request: Request,
    svc: ServicesDep,
    who: SubscriberDep,
    *,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Server-sent events; each event's id is the cursor after it, so a client that
    reconnects with Last-Event-ID misses nothing. The credential is checked again before
    every page and every few seconds: once the key is revoked or the token expired, the
    stream sends a ``govbus.error`` event saying so and ends."""
    position = parse_cursor(last_event_id or cursor)
    reader = held_read(svc, who, strict=True)
    # The first page before the response starts: a refusal (no grant, bad cursor, Kafka
    # down) is still a proper problem+json status. A credential that ended while that page
    # was read (401) ends the stream at once, as it would later.
    first: Page | Problem
    try:
        first = await reader.page(position, limit=100, wait_s=0)
    except Problem as exc:
        if exc.status != 401:
            raise
        first = exc

    base = str(request.base_url)

    def error_event(exc: Problem) -> bytes:
        body = {"status": exc.status, "type": exc.code, "detail": exc.detail}
        return ServerSentEvent(json.dumps(body), event="govbus.error").encode()

    async def events() -> AsyncIterator[bytes]:
        if isinstance(first, Problem):
            yield error_event(first)
            return
        page = first
        while True:
            audit_reads(svc, who, page, request)
            if page.events:  # one chunk per page, not one send per event
                tokens = [cursors.encode(after) for _, after in page.events]
                yield b"".join(
                    ServerSentEvent(
                        cloudevent_json(item, token, base=base),
                        id=token,
                        event="govbus.delivery",
                    ).encode()
                    for (item, _), token in zip(page.events, tokens, strict=True)
                )
            if await request.is_disconnected():
                return
            await asyncio.sleep(0)
            try:  # re-authorised while it waits (held.py): a revoked key ends the stream
                page = await reader.page(page.cursor, limit=100, wait_s=2)
            except Problem as exc:  # mid-stream: say why and end; the client resumes later
                yield error_event(exc)
                return

    return EventSourceResponse(events(), ping=15)


schemas_router = APIRouter(prefix="/v1/schemas", tags=["subscribers"], responses=PROBLEM_RESPONSES)


@schemas_router.get("/{fingerprint}")
async def schema(
    fingerprint: Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$")],
    svc: ServicesDep,
    who: SubscriberDep,
) -> dict[str, Any]:
    """The Avro schema of one of your deliveries: the URL in each delivery's ``dataschema``
    (on the delivery topic itself ``govbus:schema:<fingerprint>``). Another department's
    schemas -- which would show what it receives, and how masked -- are not found (404), like
    a schema that does not exist."""
    decoder = svc.consumption.decoder
    fp = bytes.fromhex(fingerprint)
    found = decoder.codec.schema(fp)
    if found is None or found.get(SUBSCRIBER_ATTR) is None:
        # Unknown here yet, or registered before the worker marked its subscriber.
        await run_in_threadpool(decoder.refresh_schemas)
        found = decoder.codec.schema(fp)
    if found is None or found.get(SUBSCRIBER_ATTR) != who.department:
        raise Problem(404, "no-such-schema", f"no schema {fingerprint} of your deliveries")
    return found
