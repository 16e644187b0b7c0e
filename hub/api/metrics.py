"""``/metrics`` in Prometheus' text format, for the whole hub (every process counts into Redis)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from hub import keys
from hub.clients import accounts as poller_health
from hub.infra import heartbeat, metrics
from hub.live import limits
from hub.settings import Settings
from hub.web.auth import bearer
from hub.web.errors import ApiError
from hub.web.state import services
from hub.webhooks import endpoints
from hub.webhooks.queue import Deliveries


async def prometheus(request: Request) -> Response:
    expected = services(request).settings.metrics_token
    if expected and not expected.matches(bearer(request)):
        raise ApiError(401, "invalid metrics token")
    redis = services(request).redis
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
    reported = await metrics.reported(redis)  # gauges processes report (Pusher, heartbeats)
    for process in heartbeat.PROCESSES:  # a kind with no process running shows as 0
        reported.setdefault(heartbeat.gauge(process), 0.0)
    gauges += sorted(reported.items())
    gauges += await _state(redis, services(request).settings)
    body = metrics.render(await metrics.snapshot(redis), gauges)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")


async def _state(redis: Redis, settings: Settings) -> list[tuple[str, float]]:
    """What the alerts watch that no counter shows: endpoints by state, the delivery backlog,
    and readiness (as ``/readyz`` sees it: provider accounts whose credentials were refused)."""
    by_state = await endpoints.count_by_state(redis)
    overdue, late_s = await Deliveries(redis, settings.webhook.retention_s).overdue()
    unauthorized = await poller_health.unhealthy(redis, settings)
    return [
        *((f'hub_webhook_endpoints{{state="{state}"}}', float(n)) for state, n in sorted(by_state.items())),
        ("hub_webhook_deliveries_overdue", float(overdue)),
        ("hub_webhook_oldest_overdue_seconds", late_s),
        ("hub_providers_unauthorized", float(len(unauthorized))),
        ("hub_ready", 0.0 if unauthorized else 1.0),
    ]


routes = [Route("/metrics", prometheus, methods=["GET"])]
