"""Reading request bodies with a size cap and precise refusals."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

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


def parse_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}", "invalid_json") from None
    except RecursionError:
        raise ApiError(400, "body is nested too deeply", "invalid_json") from None
    if not isinstance(value, dict):
        raise ApiError(422, "body must be a JSON object")
    return value


async def read_object(request: Request) -> dict[str, Any]:
    return parse_object(await read_capped(request, services(request).settings.max_body_bytes))


def string_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(422, f"field {name!r} is required", field=name)
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ApiError(422, f"field {name!r} must be a string", field=name)
    return str(value)
