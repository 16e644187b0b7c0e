"""OpenAPI operations of :mod:`hub.api.tracking`: the recipient's page, its JSON and the logo."""

from __future__ import annotations

from typing import Any

from hub.api.openapi_parts import error

_TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}

OPENAPI_PATHS: dict[str, Any] = {
    "/track/{token}": {
        "get": {
            "summary": "The recipient's live-tracking page (HTML), in ?lang= or the Accept-Language",
            "security": [],
            "parameters": [
                _TOKEN,
                {
                    "name": "lang",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "en, fa, ar, th or hi; anything else falls back to Accept-Language",
                },
            ],
            "responses": {
                "200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}},
                "404": {
                    "description": "Unknown or expired token: the page saying so, in the viewer's language",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
            },
        }
    },
    "/v1/track/{token}": {
        "get": {
            "summary": "The recipient's view: state, provider_name, brand, trail, timeline, stops, late_eta, "
            "live offset",
            "security": [],
            "parameters": [_TOKEN],
            "responses": {
                "200": {"description": "Public tracking view"},
                "404": error("Unknown tracking token"),
            },
        }
    },
    "/v1/track/{token}/logo": {
        "get": {
            "summary": "The shipment's merchant's logo (the tracking page shows it)",
            "security": [],
            "parameters": [_TOKEN],
            "responses": {
                "200": {
                    "description": "The image",
                    "content": {
                        kind: {"schema": {"type": "string", "format": "binary"}}
                        for kind in ("image/png", "image/jpeg", "image/webp")
                    },
                },
                "404": error("Unknown tracking token, or the merchant has no logo"),
            },
        }
    },
}
