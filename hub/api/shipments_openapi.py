"""OpenAPI description of ``/v1/shipments`` (merged into :data:`hub.api.openapi.PATHS`)."""

from __future__ import annotations

from typing import Any

from hub.api.openapi_parts import answer, body, error
from hub.providers import PROVIDERS

_MERCHANT: list[dict[str, list[str]]] = [{"apiKey": []}]
_ID = {"name": "shipment_id", "in": "path", "required": True, "schema": {"type": "string"}}

OPENAPI_PATHS: dict[str, Any] = {
    "/v1/shipments": {
        "post": {
            "summary": "Register a shipment (idempotent per provider reference)",
            "security": _MERCHANT,
            "requestBody": body(
                {
                    "provider": {"enum": sorted(PROVIDERS)},
                    "provider_ref": {"type": "string"},
                    "merchant_ref": {"type": "string"},
                },
                required=["provider", "provider_ref"],
            ),
            "responses": {
                "201": answer("Registered", {"$ref": "#/components/schemas/Shipment"}),
                "200": {"description": "Already registered by this merchant"},
                "409": error("Registered by another merchant"),
                "422": error("Invalid body"),
            },
        },
        "get": {
            "summary": "List shipments, newest first",
            "security": _MERCHANT,
            "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string"}},
                {"name": "provider", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "merchant_ref",
                    "in": "query",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 256},
                    "description": "exact match, read from an index (given at registration or learned from "
                    "the provider, e.g. Alopeyk's extra_params)",
                },
                {
                    "name": "provider_ref",
                    "in": "query",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 256},
                    "description": "exact match, read from an index",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                },
                {
                    "name": "cursor",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "next_cursor of the previous page",
                },
            ],
            "responses": {
                "200": {"description": "A page: {data: [Shipment], next_cursor}"},
                "422": error("Invalid filter"),
            },
        },
    },
    "/v1/shipments/{shipment_id}": {
        "get": {
            "summary": "Current state and full history",
            "security": _MERCHANT,
            "parameters": [_ID],
            "responses": {
                "200": {"description": "Shipment with history"},
                "404": error("Not found (or not yours)"),
            },
        },
        "delete": {
            "summary": "Stop tracking; with erase=true also erase its personal data (history and state)",
            "security": _MERCHANT,
            "parameters": [
                _ID,
                {
                    "name": "erase",
                    "in": "query",
                    "schema": {"type": "boolean", "default": False},
                    "description": "remove courier names and phones, positions and stop locations, keeping "
                    "statuses and times (docs/retention.md)",
                },
            ],
            "responses": {
                "204": {"description": "Stopped (and erased)"},
                "404": error("Not found (or not yours)"),
                "422": error("erase is neither true nor false"),
            },
        },
    },
}
