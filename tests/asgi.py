"""In-process HTTP against an ASGI app (no server, no lifespan): httpx over ASGITransport."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


def request(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            return await c.request(method, path, **kwargs)

    return asyncio.run(go())
