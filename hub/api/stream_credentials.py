"""Stream credentials under ``/v1/stream-credentials``: a merchant's own Redis user for its own stream.

Each is a Redis ACL user that may only consume the merchant's stream with consumer groups
(:mod:`hub.streams.credentials`); the password is in the answer to POST, and never again.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api.openapi_parts import answer, body, error
from hub.streams import credentials
from hub.streams.credentials import MAX_DESCRIPTION, MAX_PER_MERCHANT
from hub.web.auth import require_merchant
from hub.web.bodies import read_object
from hub.web.errors import ApiError
from hub.web.state import services

_ONCE_NOTE = "password is shown only now; redis_url carries it. Revoke and create another if lost."


async def create_credential(request: Request) -> Response:
    merchant = await require_merchant(request)
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    fields: dict[str, Any] = await read_object(request) if has_body else {}
    description = fields.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise ApiError(
            422, f"description must be text of at most {MAX_DESCRIPTION} characters", field="description"
        )
    if unknown := sorted(set(fields) - {"description"}):
        raise ApiError(422, f"unknown fields {unknown}; only 'description' is accepted", field=unknown[0])
    state = services(request)
    try:
        made = await credentials.create(state.redis, state.settings, merchant.id, description)
    except credentials.TooManyCredentials as exc:
        raise ApiError(409, str(exc), "too_many_credentials") from None
    except credentials.AclNotPermitted as exc:
        raise ApiError(503, str(exc), "acl_not_permitted") from None
    view = {
        **made.credential.to_json(),
        "password": made.password,
        "redis_url": made.redis_url,
        "stream": made.stream,
        "note": _ONCE_NOTE,
    }
    return JSONResponse(view, status_code=201)


async def list_credentials(request: Request) -> Response:
    merchant = await require_merchant(request)
    found = await credentials.listing(services(request).redis, merchant.id)
    return JSONResponse({"data": [credential.to_json() for credential in found]})


async def revoke_credential(request: Request) -> Response:
    """404 for a user that is not this merchant's (another merchant's included): nothing revealed."""
    merchant = await require_merchant(request)
    try:
        await credentials.revoke(services(request).redis, merchant.id, request.path_params["user"])
    except credentials.AclNotPermitted as exc:
        raise ApiError(503, str(exc), "acl_not_permitted") from None
    return Response(status_code=204)


_UNAVAILABLE = error("Redis unavailable, or the hub's Redis user may not manage ACL users")
_AUTH: list[dict[str, list[str]]] = [{"apiKey": []}]
_CREDENTIAL = {
    "user": {"type": "string", "description": "the Redis ACL user name"},
    "created_ms": {"type": "integer"},
    "description": {"type": "string"},
}
_NEW = {
    "type": "object",
    "properties": {
        **_CREDENTIAL,
        "password": {"type": "string", "description": "shown only in this answer"},
        "redis_url": {"type": "string", "description": "redis[s]://user:password@host:port"},
        "stream": {"type": "string", "description": "hub:{m:<merchant_id>}:events"},
    },
}
OPENAPI_PATHS: dict[str, Any] = {
    "/v1/stream-credentials": {
        "post": {
            "summary": "A Redis user that may only consume this merchant's own stream; password shown once",
            "security": _AUTH,
            "requestBody": {
                **body({"description": {"type": "string", "maxLength": MAX_DESCRIPTION}}),
                "required": False,
            },
            "responses": {
                "201": answer("Created (the only answer with the password)", _NEW),
                "400": error("Body is not JSON, not UTF-8, or holds a lone surrogate (docs/api-errors.md)"),
                "401": error("Missing or wrong API key"),
                "409": error(f"The merchant already holds {MAX_PER_MERCHANT} credentials"),
                "413": error("Body over the size limit"),
                "422": error(
                    "Not an object, too deep, an unknown field, or a description not text up to the limit"
                ),
                "503": _UNAVAILABLE,
            },
        },
        "get": {
            "summary": "This merchant's stream credentials (never their passwords)",
            "security": _AUTH,
            "responses": {
                "200": answer(
                    "{data: [credential]}",
                    {
                        "type": "object",
                        "properties": {
                            "data": {"type": "array", "items": {"type": "object", "properties": _CREDENTIAL}}
                        },
                    },
                ),
                "401": error("Missing or wrong API key"),
            },
        },
    },
    "/v1/stream-credentials/{user}": {
        "delete": {
            "summary": "Revoke at once: the Redis user is deleted and its open connections closed",
            "security": _AUTH,
            "parameters": [{"name": "user", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "204": {"description": "Revoked"},
                "401": error("Missing or wrong API key"),
                "404": error("No such credential (or not yours)"),
                "503": _UNAVAILABLE,
            },
        }
    },
}

routes = [
    Route("/v1/stream-credentials", create_credential, methods=["POST"]),
    Route("/v1/stream-credentials", list_credentials, methods=["GET"]),
    Route("/v1/stream-credentials/{user}", revoke_credential, methods=["DELETE"]),
]
