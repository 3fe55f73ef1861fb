"""The baseline for SSE fan-out: a bare Starlette endpoint streaming N prepared events from
memory, no auth, no Kafka. `uvicorn bench.bare_sse:app` with BENCH_SSE_EVENTS and
BENCH_SSE_TEMPLATE (one event's JSON, as the gateway sends it)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

EVENTS = int(os.environ.get("BENCH_SSE_EVENTS", "500"))
TEMPLATE = os.environ.get("BENCH_SSE_TEMPLATE", '{"id": "x"}')


async def stream(_: Request) -> StreamingResponse:
    async def events() -> AsyncIterator[bytes]:
        for i in range(EVENTS):
            yield f"id: {i}\nevent: govbus.delivery\ndata: {TEMPLATE}\n\n".encode()

    return StreamingResponse(events(), media_type="text/event-stream")


app = Starlette(routes=[Route("/stream", stream)])
