"""OpenAPI operations of :mod:`hub.api.brand` (merged into ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from hub.api.brand import LOGO_TYPES
from hub.api.openapi_parts import answer, error
from hub.registry.brand import MAX_LOGO_BYTES, MAX_NAME_CHARS

_MERCHANT: list[dict[str, list[str]]] = [{"apiKey": []}]
_BRAND = "#/components/schemas/Brand"
_KEY_ERRORS = {
    "401": error("Missing, unknown or revoked API key"),
    "403": error("The merchant is disabled by the operator (code merchant_disabled)"),
}
_NAME = {"type": ["string", "null"], "minLength": 1, "maxLength": MAX_NAME_CHARS, "description": "printable"}
_COLOR = {"type": ["string", "null"], "pattern": "^#[0-9a-fA-F]{6}$", "description": "#rrggbb"}

OPENAPI_PATHS: dict[str, Any] = {
    "/v1/merchant/brand": {
        "get": {
            "summary": "The merchant's brand on its recipients' tracking page",
            "security": _MERCHANT,
            "responses": {"200": answer("The brand", {"$ref": _BRAND}), **_KEY_ERRORS},
        },
        "put": {
            "summary": "Set the display name and colour (absent or null clears one; the logo is kept)",
            "security": _MERCHANT,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"display_name": _NAME, "color": _COLOR},
                            "additionalProperties": False,
                        }
                    }
                },
            },
            "responses": {
                "200": answer("The brand", {"$ref": _BRAND}),
                **_KEY_ERRORS,
                "400": error("A body that is not JSON"),
                "413": error("Body over the size limit"),
                "422": error("Not an object, an unknown field, a bad colour or display name"),
            },
        },
    },
    "/v1/merchant/brand/logo": {
        "put": {
            "summary": f"Upload the logo: the image itself as the body, PNG, JPEG or WebP, at most "
            f"{MAX_LOGO_BYTES // 1024} KiB",
            "security": _MERCHANT,
            "requestBody": {
                "required": True,
                "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in LOGO_TYPES},
            },
            "responses": {
                "200": answer("The brand, with the new logo", {"$ref": _BRAND}),
                **_KEY_ERRORS,
                "413": error(f"Over {MAX_LOGO_BYTES} bytes"),
                "415": error("Not a PNG, JPEG or WebP image, or not the type its Content-Type says"),
                "422": error("An empty body"),
            },
        },
        "delete": {
            "summary": "Remove the logo",
            "security": _MERCHANT,
            "responses": {"204": {"description": "Removed (or there was none)"}, **_KEY_ERRORS},
        },
    },
}

SCHEMAS: dict[str, Any] = {
    "Brand": {
        "type": "object",
        "properties": {
            "display_name": {"type": ["string", "null"]},
            "color": {"type": ["string", "null"], "description": "#rrggbb"},
            "text_color": {
                "type": ["string", "null"],
                "description": "#000000 or #ffffff, whichever contrasts more with color",
            },
            "logo": {
                "type": ["object", "null"],
                "properties": {
                    "content_type": {"type": "string"},
                    "sha256": {"type": "string"},
                    "size_bytes": {"type": "integer"},
                },
            },
        },
    }
}
