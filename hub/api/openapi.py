"""The OpenAPI 3.1 description, served at ``/openapi.json``.

Written as data next to the routes it describes; a test checks that every route of the
app appears here, so the two cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api.brand_openapi import OPENAPI_PATHS as BRAND_PATHS
from hub.api.brand_openapi import SCHEMAS as BRAND_SCHEMAS
from hub.api.merchants_openapi import OPENAPI_PATHS as MERCHANT_PATHS
from hub.api.merchants_openapi import SCHEMAS as MERCHANT_SCHEMAS
from hub.api.openapi_parts import answer, body, error
from hub.api.operations import OPENAPI_PATHS as OPERATIONS_PATHS
from hub.api.shipments_openapi import OPENAPI_PATHS as SHIPMENT_PATHS
from hub.api.stream_credentials import OPENAPI_PATHS as STREAM_CREDENTIAL_PATHS
from hub.api.tracking_openapi import OPENAPI_PATHS as TRACKING_PATHS
from hub.api.webhooks_openapi import OPENAPI_PATHS as WEBHOOK_PATHS
from hub.model.event import schema as event_schema

_MERCHANT: list[dict[str, list[str]]] = [{"apiKey": []}]

PATHS: dict[str, Any] = {
    "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "Up"}}}},
    "/readyz": {
        "get": {
            "summary": "Readiness (Redis reachable)",
            "security": [],
            "responses": {"200": {"description": "Ready"}, "503": {"description": "A dependency is down"}},
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics of the whole hub (bearer HUB_METRICS_TOKEN when set)",
            "security": [{"metricsToken": []}],
            "responses": {"200": {"description": "text/plain; version=0.0.4"}, "401": error("Wrong token")},
        }
    },
    "/openapi.json": {
        "get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OK"}}}
    },
    "/v1/merchants": {
        "post": {
            "summary": "Create a merchant; returns its API key and Alopeyk receiver URL once",
            "security": [{"adminToken": []}],
            "requestBody": body({"name": {"type": "string"}}, required=["name"]),
            "responses": {
                "201": answer("Created", {"$ref": "#/components/schemas/NewMerchant"}),
                "401": error("Missing or wrong admin token"),
                "403": error("Admin API disabled (HUB_ADMIN_TOKEN unset)"),
                "422": error("Invalid body"),
            },
        }
    },
    "/ingest/alopeyk/{secret}": {
        "post": {
            "summary": "Alopeyk webhook receiver (the secret in the URL identifies the merchant)",
            "security": [],
            "parameters": [{"name": "secret", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": body(),
            "responses": {
                "202": answer(
                    "Appended durably to hub:inbox; hub normalizer appends its events",
                    {
                        "type": "object",
                        "properties": {"accepted": {"type": "string", "description": "inbox entry id"}},
                    },
                ),
                "400": error("Malformed JSON (kept in the dead-letter stream)"),
                "404": error("Unknown receiver secret (nothing stored)"),
                "413": error("Body over the size limit (kept, truncated, in the dead-letter stream)"),
                "422": error("Not an Alopeyk order (kept in the dead-letter stream)"),
                "503": error(
                    "Redis unavailable (nothing stored), or with HUB_INGEST_DURABILITY=fsync its fsync "
                    "not confirmed (code not_durable: possibly stored, a retry is collapsed): retry"
                ),
            },
        }
    },
    # Live fan-out (hub/live); the WebSocket protocols are described in docs/live.md.
    "/v1/live/pusher/auth": {
        "post": {
            "summary": "Pusher-signed auth for private-merchant-{merchant_id} channels",
            "security": _MERCHANT,
            "responses": {
                "200": {"description": "{auth}"},
                "401": error("Bad credential"),
                "403": error("Not yours"),
            },
        }
    },
    "/v1/live/tokens": {
        "post": {
            "summary": "A short-lived token for a merchant's browser to subscribe to /v1/live",
            "security": _MERCHANT,
            "responses": {"201": {"description": "token and expires_in_s"}, "401": error("Bad API key")},
        }
    },
}
PATHS.update(SHIPMENT_PATHS)
PATHS.update(WEBHOOK_PATHS)
PATHS.update(STREAM_CREDENTIAL_PATHS)
PATHS.update(BRAND_PATHS)
PATHS.update(TRACKING_PATHS)
PATHS.update(OPERATIONS_PATHS)
for _path, _operations in MERCHANT_PATHS.items():
    PATHS.setdefault(_path, {}).update(_operations)

# HLD over Pusher: webhooks from an operator's Pusher app relaying HLD client events.
PATHS["/ingest/pusher"] = {
    "post": {
        "summary": "Pusher webhook receiver (HLD client events on hld.order.* channels)",
        "security": [],
        "parameters": [
            {"name": "X-Pusher-Key", "in": "header", "required": True, "schema": {"type": "string"}},
            {"name": "X-Pusher-Signature", "in": "header", "required": True, "schema": {"type": "string"}},
        ],
        "requestBody": body(
            {
                "time_ms": {"type": "integer", "description": "when Pusher sent it, ms since the epoch"},
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "description": "client_event, channel_occupied ..."},
                            "channel": {"type": "string", "description": "private-hld.order.{token}"},
                            "event": {"type": "string", "description": "client-<HLD event name>"},
                            "data": {"type": "string", "description": "the HLD event's data, as JSON text"},
                        },
                    },
                },
            },
            required=["time_ms", "events"],
        ),
        "responses": {
            "200": {"description": "Counts of published, duplicate, dead-lettered and ignored events"},
            "400": error("Not JSON, or no time_ms"),
            "401": error("Missing headers, unknown key or a signature that does not match the body"),
            "404": error("Pusher webhooks are not configured (HUB_PUSHER_WEBHOOK_SECRET)"),
            "413": error("Body over the size limit"),
            "422": error("Stale batch (time_ms over 300 s off) or 'events' not a list"),
            "503": error("Event store unavailable: retry the batch"),
        },
    }
}

COMPONENTS: dict[str, Any] = {
    "securitySchemes": {
        "apiKey": {"type": "http", "scheme": "bearer", "description": "A merchant API key"},
        "adminToken": {"type": "http", "scheme": "bearer", "description": "HUB_ADMIN_TOKEN"},
        "metricsToken": {"type": "http", "scheme": "bearer", "description": "HUB_METRICS_TOKEN"},
    },
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
        "NewMerchant": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "api_key": {"type": "string"},
                "alopeyk_webhook_url": {"type": "string", "format": "uri"},
            },
        },
        "Shipment": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "provider": {"type": "string"},
                "provider_ref": {"type": "string"},
                "merchant_ref": {"type": ["string", "null"]},
                "tracking_token": {"type": "string"},
                "tracking_url": {"type": "string"},
                "status": {"type": ["string", "null"]},
                "sequence": {"type": "integer"},
            },
        },
    },
}


# Every operation may refuse (any 4xx, in the one error shape; codes in docs/api-errors.md) and,
# when Redis is away, answer 503; the process-only routes never touch Redis.
_REFUSAL = error("Refused: the code says why (docs/api-errors.md)")
_UNAVAILABLE = error("Redis unavailable: nothing was done, retry later")
_NO_REDIS = {"/healthz", "/openapi.json"}


def _with_refusals(paths: dict[str, Any]) -> dict[str, Any]:
    described: dict[str, Any] = {}
    for path, operations in paths.items():
        described[path] = {}
        for method, operation in operations.items():
            responses = dict(operation["responses"])
            if path not in _NO_REDIS:
                responses.setdefault("4XX", _REFUSAL)
                responses.setdefault("503", _UNAVAILABLE)
            described[path][method] = {**operation, "responses": responses}
    return described


def document() -> dict[str, Any]:
    schemas = {**COMPONENTS["schemas"], **MERCHANT_SCHEMAS, **BRAND_SCHEMAS, "Event": event_schema()}
    components = {**COMPONENTS, "schemas": schemas}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tracking hub", "version": "0.1.0"},
        "security": _MERCHANT,
        "paths": _with_refusals(PATHS),
        "components": components,
    }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document())


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
