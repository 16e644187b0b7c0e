"""OpenAPI description of ``/v1/webhooks`` (merged into :data:`hub.api.openapi.PATHS`)."""

from __future__ import annotations

from typing import Any

from hub.api.openapi_parts import body, error

_AUTH: list[dict[str, list[str]]] = [{"apiKey": []}, {"adminToken": []}]
_EP = {"name": "endpoint_id", "in": "path", "required": True, "schema": {"type": "string"}}
_DLV = {"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "string"}}


_LIST = {"type": "array", "items": {"type": "string"}}
_SUBSCRIPTION = {
    "url": {
        "type": "string",
        "format": "uri",
        "maxLength": 2000,
        "description": "https (http only if HUB_WEBHOOK_ALLOW_HTTP)",
    },
    "event_types": {**_LIST, "description": "empty: every type"},
    "providers": {**_LIST, "description": "empty: every provider"},
    "shipment_ids": {**_LIST, "description": "empty: every shipment"},
    "description": {"type": "string", "maxLength": 500},
}
_ENDPOINT = {"description": "The endpoint (never its secret)"}
_WITH_SECRET = {"description": "The endpoint and its new signing secret (shown once)"}
_NOT_FOUND = error("No such endpoint (or not yours)")


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "security": _AUTH, "responses": responses, **extra}


OPENAPI_PATHS: dict[str, Any] = {
    "/v1/webhooks/endpoints": {
        "post": _op(
            "Subscribe an endpoint; the admin names merchant_id",
            {"201": _WITH_SECRET, "422": error("Invalid or unsafe url, unknown type or provider")},
            requestBody=body({**_SUBSCRIPTION, "merchant_id": {"type": "string"}}, ["url"]),
        ),
        "get": _op(
            "List endpoints (the admin: all, or ?merchant_id=)",
            {"200": {"description": "{data: [Endpoint]}"}},
            parameters=[{"name": "merchant_id", "in": "query", "schema": {"type": "string"}}],
        ),
    },
    "/v1/webhooks/endpoints/{endpoint_id}": {
        "get": _op("Read an endpoint", {"200": _ENDPOINT, "404": _NOT_FOUND}, parameters=[_EP]),
        "patch": _op(
            "Change url, types, providers, shipments or description",
            {"200": _ENDPOINT, "404": _NOT_FOUND, "422": error("Invalid field, or an unsafe url")},
            parameters=[_EP],
            requestBody=body(_SUBSCRIPTION),
        ),
        "delete": _op(
            "Delete; its pending deliveries are cancelled",
            {"204": {"description": "Deleted"}, "404": _NOT_FOUND},
            parameters=[_EP],
        ),
    },
    "/v1/webhooks/endpoints/{endpoint_id}/pause": {
        "post": _op(
            "Pause: deliveries wait until resumed",
            {"200": _ENDPOINT, "404": _NOT_FOUND, "409": error("Disabled: resume instead")},
            parameters=[_EP],
        )
    },
    "/v1/webhooks/endpoints/{endpoint_id}/resume": {
        "post": _op(
            "Resume a paused or disabled endpoint", {"200": _ENDPOINT, "404": _NOT_FOUND}, parameters=[_EP]
        )
    },
    "/v1/webhooks/endpoints/{endpoint_id}/rotate-secret": {
        "post": _op(
            "New secret; the old one keeps signing too for overlap_s (default HUB_WEBHOOK_SECRET_OVERLAP_S)",
            {"200": _WITH_SECRET, "404": _NOT_FOUND, "422": error("Invalid overlap_s")},
            parameters=[_EP],
            requestBody=body({"overlap_s": {"type": "number", "minimum": 0, "maximum": 604800}}),
        )
    },
    "/v1/webhooks/endpoints/{endpoint_id}/test": {
        "post": _op(
            "Queue a webhook.test event for this endpoint",
            {"202": {"description": "The delivery"}, "404": _NOT_FOUND},
            parameters=[_EP],
        )
    },
    "/v1/webhooks/endpoints/{endpoint_id}/deliveries": {
        "get": _op(
            "Deliveries, newest first",
            {
                "200": {"description": "{data: [Delivery], next_cursor}"},
                "404": _NOT_FOUND,
                "422": error("Bad filter"),
            },
            parameters=[
                _EP,
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"enum": ["pending", "succeeded", "failed", "cancelled"]},
                },
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                {"name": "cursor", "in": "query", "schema": {"type": "integer"}},
                {
                    "name": "include",
                    "in": "query",
                    "description": "attempts: each delivery with attempt_log, every attempt's "
                    "status, latency_ms and a 512-byte excerpt of the answer",
                    "schema": {"enum": ["attempts"]},
                },
            ],
        )
    },
    "/v1/webhooks/endpoints/{endpoint_id}/recover": {
        "post": _op(
            "Send again every failed delivery created in [since, until]",
            {
                "202": {"description": "{requeued, delivery_ids}"},
                "404": _NOT_FOUND,
                "422": error("Bad time"),
            },
            parameters=[_EP],
            requestBody=body(
                {
                    "since": {"type": "string", "format": "date-time"},
                    "until": {"type": "string", "format": "date-time"},
                },
                ["since"],
            ),
        )
    },
    "/v1/webhooks/endpoints/{endpoint_id}/replay": {
        "post": _op(
            "Deliver every matching event recorded in [since, until] that the endpoint has not had",
            {
                "202": {
                    "description": "{matched, created, already_had, next_cursor, oldest_kept, truncated}: "
                    "go on with next_cursor until it is null; truncated: since is older than hub:events keeps"
                },
                "404": _NOT_FOUND,
                "409": error("The endpoint is disabled"),
                "422": error("Bad time or cursor"),
            },
            parameters=[_EP],
            requestBody=body(
                {
                    "since": {"type": "string", "format": "date-time"},
                    "until": {"type": "string", "format": "date-time"},
                    "cursor": {"type": "string", "pattern": "^[0-9]+-[0-9]+$"},
                },
                ["since"],
            ),
        )
    },
    "/v1/webhooks/deliveries/{delivery_id}": {
        "get": _op(
            "A delivery with every attempt (time, status, latency, first 4 KiB of the response, "
            "its 512-byte excerpt, error)",
            {
                "200": {"description": "Delivery with attempts"},
                "404": error("No such delivery (or not yours)"),
            },
            parameters=[_DLV],
        )
    },
    "/v1/webhooks/deliveries/{delivery_id}/retry": {
        "post": _op(
            "Send this delivery again (same webhook-id), after earlier events of its shipment",
            {
                "202": {"description": "The delivery, pending"},
                "404": error("No such delivery (or not yours)"),
            },
            parameters=[_DLV],
        )
    },
}
