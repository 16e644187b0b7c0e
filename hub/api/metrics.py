"""``/metrics`` in Prometheus' text format, for the whole hub (every process counts into Redis)."""

from __future__ import annotations

import hmac

from redis.exceptions import ResponseError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from hub import keys
from hub.infra import metrics
from hub.live import limits
from hub.web.auth import bearer
from hub.web.errors import ApiError


async def prometheus(request: Request) -> Response:
    expected = request.app.state.settings.metrics_token
    if expected and not hmac.compare_digest(bearer(request).encode(), expected.encode()):
        raise ApiError(401, "invalid metrics token")
    redis = request.app.state.redis
    gauges = []
    for stream in (keys.EVENTS, keys.INBOX, keys.DEADLETTER):
        gauges.append((f'hub_stream_length{{stream="{stream}"}}', float(await redis.xlen(stream))))
    for stream in (keys.EVENTS, keys.INBOX):
        try:
            groups = await redis.xinfo_groups(stream)
        except ResponseError:  # no stream yet
            groups = []
        for group in groups:
            labels = f'{{group="{group["name"]}",stream="{stream}"}}'
            gauges.append((f"hub_consumer_group_lag{labels}", float(group.get("lag") or 0)))
            gauges.append((f"hub_consumer_group_pending{labels}", float(group.get("pending", 0))))
    for protocol, count in (await limits.open_sockets(redis)).items():  # live sockets of every process
        gauges.append((f'hub_live_open_sockets{{protocol="{protocol}"}}', float(count)))
    gauges += sorted((await metrics.reported(redis)).items())  # gauges processes report (Pusher)
    body = metrics.render(await metrics.snapshot(redis), gauges)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")


routes = [Route("/metrics", prometheus, methods=["GET"])]
