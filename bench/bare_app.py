"""The baseline: a bare Starlette endpoint that only parses the same JSON body."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def parse_only(request: Request) -> JSONResponse:
    json.loads(await request.body())
    return JSONResponse({"ok": True})


app = Starlette(routes=[Route("/ingest/alopeyk/{secret}", parse_only, methods=["POST"])])
