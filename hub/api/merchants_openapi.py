"""OpenAPI operations of :mod:`hub.api.merchants` (merged into ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from hub.api.openapi_parts import answer, body, error

_MERCHANT: list[dict[str, list[str]]] = [{"apiKey": []}]
_ADMIN: list[dict[str, list[str]]] = [{"adminToken": []}]
_MERCHANT_ID = {"name": "merchant_id", "in": "path", "required": True, "schema": {"type": "string"}}
_KEY_ID = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
_NAME = {"type": "string", "minLength": 1, "maxLength": 100, "description": "printable text"}
_KEY = "#/components/schemas/ApiKey"
_MERCHANT_VIEW = "#/components/schemas/MerchantView"
_ADMIN_ERRORS = {
    "401": error("Missing or wrong admin token"),
    "403": error("Admin API disabled (HUB_ADMIN_TOKEN unset)"),
}
_KEY_ERRORS = {
    "401": error("Missing, unknown or revoked API key"),
    "403": error("The merchant is disabled by the operator (code merchant_disabled)"),
}

OPENAPI_PATHS: dict[str, Any] = {
    "/v1/keys": {
        "post": {
            "summary": "Create a named API key; the key is returned only now",
            "security": _MERCHANT,
            "requestBody": body({"name": _NAME}, required=["name"]),
            "responses": {
                "201": answer("Created: the key's record and `key`", {"$ref": _KEY}),
                **_KEY_ERRORS,
                "409": error("The merchant already has the most keys allowed (50)"),
                "422": error("Invalid name"),
            },
        },
        "get": {
            "summary": "List the merchant's API keys (never the keys themselves)",
            "security": _MERCHANT,
            "responses": {
                "200": answer("{data: [ApiKey]}", {"type": "object"}),
                **_KEY_ERRORS,
            },
        },
    },
    "/v1/keys/{key_id}": {
        "delete": {
            "summary": "Revoke an API key: refused by every hub process at once, its live sockets closed",
            "security": _MERCHANT,
            "parameters": [_KEY_ID],
            "responses": {
                "204": {"description": "Revoked"},
                **_KEY_ERRORS,
                "404": error("No such key (or not yours)"),
                "409": error("The merchant's last key: create another first"),
            },
        }
    },
    "/v1/receivers/alopeyk/rotate": {
        "post": {
            "summary": "A new Alopeyk receiver URL, returned only now; the previous one works for "
            "HUB_RECEIVER_SECRET_OVERLAP_S more, then answers 404",
            "security": _MERCHANT,
            "responses": {
                "201": answer(
                    "The new URL",
                    {
                        "type": "object",
                        "properties": {
                            "alopeyk_webhook_url": {"type": "string", "format": "uri"},
                            "previous_url_valid_until_ms": {"type": ["integer", "null"]},
                        },
                    },
                ),
                **_KEY_ERRORS,
                "400": error("A body that is not JSON"),
                "422": error("A body that is not a JSON object"),
            },
        }
    },
    "/v1/merchants": {
        "get": {
            "summary": "List merchants, oldest first (operator)",
            "security": _ADMIN,
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                },
                {"name": "cursor", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "200": answer("{data: [MerchantView], next_cursor}", {"type": "object"}),
                **_ADMIN_ERRORS,
                "422": error("Invalid limit or cursor"),
            },
        }
    },
    "/v1/merchants/{merchant_id}": {
        "get": {
            "summary": "One merchant (operator)",
            "security": _ADMIN,
            "parameters": [_MERCHANT_ID],
            "responses": {
                "200": answer(
                    "The merchant, with how many API keys, shipments and webhook endpoints it has",
                    {
                        "allOf": [
                            {"$ref": _MERCHANT_VIEW},
                            {"type": "object", "properties": {"counts": {"type": "object"}}},
                        ]
                    },
                ),
                **_ADMIN_ERRORS,
                "404": error("No such merchant"),
            },
        }
    },
    "/v1/merchants/{merchant_id}/disable": {
        "post": {
            "summary": "Disable a merchant: receivers 404, deliveries pause, live sockets close, API 403; "
            "data kept",
            "security": _ADMIN,
            "parameters": [_MERCHANT_ID],
            "requestBody": {**body({"reason": _NAME | {"maxLength": 500}}), "required": False},
            "responses": {
                "200": answer("The merchant, disabled", {"$ref": _MERCHANT_VIEW}),
                **_ADMIN_ERRORS,
                "404": error("No such merchant"),
                "422": error("Invalid reason"),
            },
        }
    },
    "/v1/merchants/{merchant_id}/enable": {
        "post": {
            "summary": "Enable a merchant again: everything resumes, paused deliveries go out",
            "security": _ADMIN,
            "parameters": [_MERCHANT_ID],
            "responses": {
                "200": answer("The merchant, enabled", {"$ref": _MERCHANT_VIEW}),
                **_ADMIN_ERRORS,
                "404": error("No such merchant"),
            },
        }
    },
}

SCHEMAS: dict[str, Any] = {
    "ApiKey": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "prefix": {"type": "string", "description": "the key's first characters, to tell keys apart"},
            "created_ms": {"type": "integer"},
            "last_used_ms": {"type": ["integer", "null"], "description": "updated at most once a minute"},
            "key": {"type": "string", "description": "only in the answer to its creation"},
        },
    },
    "MerchantView": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "created_ms": {"type": "integer"},
            "disabled": {"type": "boolean"},
            "disabled_ms": {"type": ["integer", "null"]},
            "disabled_reason": {"type": ["string", "null"]},
        },
    },
}
