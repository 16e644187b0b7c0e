"""One JSON shape for every refusal: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.errors import Conflict, NotFound
from hub.ingest.inbox import NotDurable

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(HTTPException):
    def __init__(self, status_code: int, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(status_code, message)
        self.code = code or _CODES.get(status_code, "error")
        self.extra = extra


def error_response(status_code: int, message: str, code: str | None = None, **extra: Any) -> JSONResponse:
    body = {"error": {"code": code or _CODES.get(status_code, "error"), "message": message, **extra}}
    headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
    return JSONResponse(body, status_code=status_code, headers=headers)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.detail, exc.code, **exc.extra)
    return error_response(exc.status_code, exc.detail)


async def not_found(request: Request, exc: Exception) -> Response:
    return error_response(404, str(exc))


async def conflict(request: Request, exc: Exception) -> Response:
    return error_response(409, str(exc))


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """Redis is down or failing: nothing was stored, and the caller may retry (never a bare 500)."""
    return error_response(503, f"event store unavailable ({type(exc).__name__}); retry later")


async def not_durable(request: Request, exc: Exception) -> Response:
    """HUB_INGEST_DURABILITY=fsync and Redis did not confirm the fsync: say why, the sender retries."""
    return error_response(503, f"not confirmed durable: {exc}; retry later", "not_durable")


HANDLERS = {
    NotDurable: not_durable,
    HTTPException: http_exception,
    NotFound: not_found,
    Conflict: conflict,
    RedisError: store_unavailable,
}
