"""Reading request bodies with a size cap and precise refusals (the reader itself: hub/model/safejson.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from hub.model import safejson
from hub.web.errors import ApiError
from hub.web.state import services


class BodyTooLarge(ApiError):
    """413, carrying the first ``max_bytes`` of the body for the dead-letter stream."""

    def __init__(self, max_bytes: int, partial: bytes) -> None:
        super().__init__(413, f"body is over the {max_bytes}-byte limit")
        self.partial = partial


async def read_capped(request: Request, max_bytes: int) -> bytes:
    """The raw body, refused with 413 as soon as it grows past ``max_bytes``."""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(max_bytes, b"".join(chunks)[:max_bytes])
    return b"".join(chunks)


def refusal(refused: safejson.Refusal) -> ApiError:
    """The API's answer to a body the guarded reader refused: its status and its reason's code."""
    return ApiError(refused.status, f"body refused: {refused.message}", refused.code)


def parse(body: bytes, limits: safejson.Limits, expect: type[Any] | None = dict) -> Any:
    try:
        return safejson.loads(body, limits, expect)
    except safejson.Refusal as refused:
        raise refusal(refused) from None


def parse_object(body: bytes, limits: safejson.Limits) -> dict[str, Any]:
    value: dict[str, Any] = parse(body, limits, dict)
    return value


async def read_object(request: Request) -> dict[str, Any]:
    settings = services(request).settings
    return parse_object(await read_capped(request, settings.max_body_bytes), safejson.Limits.of(settings))


def string_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(422, f"field {name!r} is required", field=name)
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ApiError(422, f"field {name!r} must be a string", field=name)
    return str(value)
