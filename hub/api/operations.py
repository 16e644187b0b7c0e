"""A merchant's view of its own operations: its receiver's dead letters and its stream consumers' lag.

Both are scoped to the calling merchant's API key: another merchant's dead letters and
stream are never listed (the console's Operations page shows the same data).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api.openapi_parts import answer, error
from hub.ingest import deadletter
from hub.streams import consumers
from hub.web.auth import require_merchant
from hub.web.errors import ApiError
from hub.web.state import services

MAX_PAGE = 200
_WHOLE = re.compile(r"[0-9]{1,4}")


async def list_deadletters(request: Request) -> Response:
    merchant = await require_merchant(request)
    raw = request.query_params.get("limit", "50")
    if not _WHOLE.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(422, f"limit must be a whole number between 1 and {MAX_PAGE}", field="limit")
    found = await deadletter.for_merchant(services(request).redis, merchant.id, int(raw))
    return JSONResponse({"data": [letter.summary() for letter in found]})


async def stream_lag(request: Request) -> Response:
    merchant = await require_merchant(request)
    return JSONResponse((await consumers.lag(services(request).redis, merchant.id)).to_json())


_AUTH: list[dict[str, list[str]]] = [{"apiKey": []}]
_KEY_ERRORS = {"401": error("Missing, unknown or revoked API key"), "403": error("The merchant is disabled")}
_LETTER = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "provider": {"type": "string"},
        "kind": {"type": "string"},
        "channel": {"type": "string"},
        "reason": {"type": "string"},
        "ref": {"type": ["string", "null"]},
        "received_ms": {"type": "integer"},
        "body_bytes": {"type": "integer"},
        "body_excerpt": {"type": "string", "description": "at most 512 bytes, as text"},
    },
}
_GROUP = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "consumers": {"type": "integer"},
        "pending": {"type": "integer", "description": "delivered, not yet acknowledged"},
        "lag": {"type": ["integer", "null"], "description": "not yet delivered (null: unknown)"},
        "last_delivered_id": {"type": "string"},
    },
}
OPENAPI_PATHS: dict[str, Any] = {
    "/v1/deadletters": {
        "get": {
            "summary": "This merchant's newest dead letters (payloads its receiver got but could not use)",
            "security": _AUTH,
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                }
            ],
            "responses": {
                "200": answer(
                    "{data: [dead letter]}, newest first",
                    {"type": "object", "properties": {"data": {"type": "array", "items": _LETTER}}},
                ),
                **_KEY_ERRORS,
                "422": error("Bad limit"),
            },
        }
    },
    "/v1/streams/consumers": {
        "get": {
            "summary": "This merchant's stream and how far behind each of its consumer groups is",
            "security": _AUTH,
            "responses": {
                "200": answer(
                    "{stream, length, last_id, groups: [group]}",
                    {
                        "type": "object",
                        "properties": {
                            "stream": {"type": "string"},
                            "length": {"type": "integer"},
                            "last_id": {"type": ["string", "null"]},
                            "groups": {"type": "array", "items": _GROUP},
                        },
                    },
                ),
                **_KEY_ERRORS,
            },
        }
    },
}

routes = [
    Route("/v1/deadletters", list_deadletters, methods=["GET"]),
    Route("/v1/streams/consumers", stream_lag, methods=["GET"]),
]
