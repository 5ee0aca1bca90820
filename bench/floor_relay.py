"""The floor: the least a relay can do, to see what relaying itself costs.

It takes an OpenAI chat completion request, sends it on to the upstream FLOOR_UPSTREAM
names (a base URL ending in /v1) with httpx2, and passes the streamed answer's bytes back
as they arrive: no sign-in, no database, no parsing. It runs in the bench's own venv
(bench/requirements-floor.txt: Starlette is no dependency of Switchboard):

    FLOOR_UPSTREAM=http://127.0.0.1:8100/v1 bench/.venv-floor/bin/python -m uvicorn \\
        --app-dir bench floor_relay:app --port 8200
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

UPSTREAM = os.environ["FLOOR_UPSTREAM"]
# httpx allows 100 connections by default: the 200-stream level would queue behind them.
_client = httpx2.AsyncClient(
    timeout=httpx2.Timeout(180.0, connect=30.0),
    limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=1000),
)


async def chat_completions(request: Request) -> StreamingResponse:
    upstream = await _client.send(
        _client.build_request(
            "POST",
            f"{UPSTREAM}/chat/completions",
            content=await request.body(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-floor"},
        ),
        stream=True,
    )
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type"),
        background=BackgroundTask(upstream.aclose),
    )


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    yield
    await _client.aclose()


app = Starlette(
    routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])],
    lifespan=lifespan,
)
