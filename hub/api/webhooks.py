"""Merchant webhook subscriptions under ``/v1/webhooks`` (merchant API key; the admin sees all)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.registry import merchants
from hub.web.auth import bearer, require_merchant
from hub.web.bodies import read_object, string_field
from hub.web.errors import ApiError
from hub.web.state import services
from hub.webhooks import attempt_log, endpoints, manage, replay, subscription
from hub.webhooks.delivery import DeliveryStatus, now_ms
from hub.webhooks.endpoints import Endpoint, State
from hub.webhooks.queue import Deliveries
from hub.webhooks.signing import SecretBox

MAX_PAGE = 200
_STREAM_ID = re.compile(r"[0-9]{1,19}-[0-9]{1,19}")
_ONCE_NOTE = "secret is shown only now; store it to verify signatures (Standard Webhooks)."


async def caller(request: Request) -> str | None:
    """The calling merchant's id, or None for the admin."""
    token = bearer(request)
    admin = services(request).settings.admin_token
    if admin and admin.matches(token):
        return None
    return (await require_merchant(request)).id


def _box(request: Request) -> SecretBox:
    return manage.secret_box(services(request).settings)


def _deliveries(request: Request) -> Deliveries:
    return manage.delivery_queue(services(request).redis, services(request).settings)


async def _endpoint(request: Request) -> Endpoint:
    merchant_id = await caller(request)
    return await endpoints.get(services(request).redis, request.path_params["endpoint_id"], merchant_id)


async def _subscription(body: dict[str, Any], request: Request, partial: bool) -> dict[str, Any]:
    try:
        return await subscription.changes(body, services(request).settings, partial)
    except subscription.InvalidSubscription as exc:
        raise ApiError(422, str(exc), exc.code, field=exc.field) from None


async def create_endpoint(request: Request) -> Response:
    merchant_id = await caller(request)
    body = await read_object(request)
    if merchant_id is None:  # the admin names the merchant
        merchant_id = string_field(body, "merchant_id")
        assert merchant_id is not None
        await merchants.get(services(request).redis, merchant_id)
    subscription = await _subscription(body, request, partial=False)
    endpoint, secret = await endpoints.create(
        services(request).redis, _box(request), merchant_id, **subscription
    )
    return JSONResponse({**endpoint.to_json(), "secret": secret, "note": _ONCE_NOTE}, status_code=201)


async def list_endpoints(request: Request) -> Response:
    merchant_id = await caller(request)
    if merchant_id is None:
        merchant_id = request.query_params.get("merchant_id")
    found = await endpoints.listing(services(request).redis, merchant_id)
    return JSONResponse({"data": [e.to_json() for e in found]})


async def get_endpoint(request: Request) -> Response:
    return JSONResponse((await _endpoint(request)).to_json())


async def update_endpoint(request: Request) -> Response:
    endpoint = await _endpoint(request)
    changes = await _subscription(await read_object(request), request, partial=True)
    updated = await endpoints.save(services(request).redis, endpoint, **changes)
    return JSONResponse(updated.to_json())


async def delete_endpoint(request: Request) -> Response:
    await endpoints.delete(services(request).redis, await _endpoint(request))
    return Response(status_code=204)


async def pause_endpoint(request: Request) -> Response:
    updated = await manage.pause(services(request).redis, await _endpoint(request))
    return JSONResponse(updated.to_json())


async def resume_endpoint(request: Request) -> Response:
    """Active again (also after a disable); waiting deliveries are due at once."""
    updated = await manage.resume(services(request).redis, _deliveries(request), await _endpoint(request))
    return JSONResponse(updated.to_json())


async def rotate_secret(request: Request) -> Response:
    endpoint = await _endpoint(request)
    body = await read_object(request) if int(request.headers.get("content-length") or 0) else {}
    overlap_s = body.get("overlap_s", services(request).settings.webhook.secret_overlap_s)
    if (
        not isinstance(overlap_s, int | float)
        or isinstance(overlap_s, bool)
        or not 0 <= overlap_s <= manage.MAX_OVERLAP_S
    ):
        raise ApiError(422, "overlap_s must be a number of seconds between 0 and 604800", field="overlap_s")
    updated, secret = await endpoints.rotate(services(request).redis, _box(request), endpoint, overlap_s)
    return JSONResponse({**updated.to_json(), "secret": secret, "note": _ONCE_NOTE})


async def send_test(request: Request) -> Response:
    delivery = await manage.send_test(_deliveries(request), await _endpoint(request))
    return JSONResponse(delivery.to_json(), status_code=202)


async def list_deliveries(request: Request) -> Response:
    endpoint = await _endpoint(request)
    params = request.query_params
    status = params.get("status")
    if status is not None and status not in DeliveryStatus.__members__.values():
        raise ApiError(422, f"status must be one of {[s.value for s in DeliveryStatus]}", field="status")
    limit = _int_param(params.get("limit", "50"), "limit")
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(422, f"limit must be between 1 and {MAX_PAGE}", field="limit")
    cursor = _int_param(params["cursor"], "cursor") if params.get("cursor") else None
    include = params.get("include")
    if include not in (None, "attempts"):
        raise ApiError(422, "include must be 'attempts'", field="include")
    found, next_cursor = await _deliveries(request).page(
        endpoint.id, limit=limit, before_ms=cursor, status=status
    )
    data = [d.to_json() for d in found]
    if include:
        logs = await attempt_log.attempt_logs(services(request).redis, found)
        for item, log in zip(data, logs, strict=True):
            item["attempt_log"] = [attempt.to_json() for attempt in log]
    return JSONResponse({"data": data, "next_cursor": next_cursor})


async def get_delivery(request: Request) -> Response:
    merchant_id = await caller(request)
    deliveries = _deliveries(request)
    delivery = await deliveries.get(request.path_params["delivery_id"], merchant_id)
    records = await deliveries.attempts(delivery)
    attempts = [
        {**record, "excerpt": attempt_log.logged(record, i + 1).excerpt} for i, record in enumerate(records)
    ]
    return JSONResponse({**delivery.to_json(), "attempts": attempts})


async def retry_delivery(request: Request) -> Response:
    merchant_id = await caller(request)
    delivery = await manage.retry(_deliveries(request), request.path_params["delivery_id"], merchant_id)
    return JSONResponse(delivery.to_json(), status_code=202)


async def recover(request: Request) -> Response:
    """Send every failed delivery of the endpoint created in ``[since, until]`` again."""
    endpoint = await _endpoint(request)
    body = await read_object(request)
    since_ms = _instant_ms(body, "since")
    until_ms = _instant_ms(body, "until") if body.get("until") else now_ms()
    if until_ms < since_ms:
        raise ApiError(422, "until must not be before since", field="until")
    failed = await manage.recover_failed(_deliveries(request), endpoint, since_ms, until_ms)
    return JSONResponse({"requeued": len(failed), "delivery_ids": [d.id for d in failed]}, status_code=202)


async def replay_events(request: Request) -> Response:
    """Deliver every matching event recorded in ``[since, until]`` the endpoint has not had yet."""
    endpoint = await _endpoint(request)
    if endpoint.state is State.DISABLED:
        raise ApiError(409, "endpoint is disabled; resume it first")
    body = await read_object(request)
    since_ms = max(0, _instant_ms(body, "since"))
    until_ms = max(0, _instant_ms(body, "until")) if body.get("until") else now_ms()
    if until_ms < since_ms:
        raise ApiError(422, "until must not be before since", field="until")
    cursor = body.get("cursor")
    if cursor is not None and not (isinstance(cursor, str) and _STREAM_ID.fullmatch(cursor)):
        raise ApiError(422, "cursor must be a next_cursor this endpoint returned", field="cursor")
    done = await replay.replay(
        services(request).redis, _deliveries(request), endpoint, since_ms, until_ms, cursor
    )
    return JSONResponse(done.to_json(since_ms), status_code=202)


def _int_param(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ApiError(422, f"{name} must be a whole number", field=name) from None


def _instant_ms(body: dict[str, Any], name: str) -> int:
    raw = string_field(body, name)
    assert raw is not None
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            422, f"{name} must be an RFC 3339 time, e.g. 2026-04-04T10:30:00Z", field=name
        ) from None
    if instant.tzinfo is None:
        raise ApiError(422, f"{name} must carry a UTC offset (e.g. Z)", field=name)
    return int(instant.timestamp() * 1000)


_EP = "/v1/webhooks/endpoints/{endpoint_id}"
routes = [
    Route("/v1/webhooks/endpoints", create_endpoint, methods=["POST"]),
    Route("/v1/webhooks/endpoints", list_endpoints, methods=["GET"]),
    Route(_EP, get_endpoint, methods=["GET"]),
    Route(_EP, update_endpoint, methods=["PATCH"]),
    Route(_EP, delete_endpoint, methods=["DELETE"]),
    Route(f"{_EP}/pause", pause_endpoint, methods=["POST"]),
    Route(f"{_EP}/resume", resume_endpoint, methods=["POST"]),
    Route(f"{_EP}/rotate-secret", rotate_secret, methods=["POST"]),
    Route(f"{_EP}/test", send_test, methods=["POST"]),
    Route(f"{_EP}/deliveries", list_deliveries, methods=["GET"]),
    Route(f"{_EP}/recover", recover, methods=["POST"]),
    Route(f"{_EP}/replay", replay_events, methods=["POST"]),
    Route("/v1/webhooks/deliveries/{delivery_id}", get_delivery, methods=["GET"]),
    Route("/v1/webhooks/deliveries/{delivery_id}/retry", retry_delivery, methods=["POST"]),
]
