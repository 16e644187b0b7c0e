"""The settings of each feature, one group each: ``HUB_<GROUP>_<FIELD>`` (see :mod:`.reading`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.settings.reading import Secret


@dataclass(frozen=True)
class StreamSettings:
    """``HUB_STREAM_*``: how much of ``hub:events`` is kept."""

    maxlen: int = 1_000_000
    max_age_s: int = 0  # when > 0, trim by age instead of length


@dataclass(frozen=True)
class MerchantStreamSettings:
    """``HUB_MERCHANT_STREAM_*``: each merchant's own stream and its credentials (docs/events.md)."""

    maxlen: int = 100_000  # per merchant stream, approximate
    max_age_s: int = 0  # when > 0, trim by age instead of length
    # redis[s]://host:port given to merchants in their stream credentials; default: HUB_REDIS_URL's
    public_url: str | None = None


@dataclass(frozen=True)
class WebhookSettings:
    """``HUB_WEBHOOK_*``: merchant webhooks (hub/webhooks, docs/webhooks.md)."""

    master_keys: tuple[Secret, ...] = ()  # Fernet keys, newest first; empty: secrets kept in clear
    allow_http: bool = False
    allow_networks: tuple[str, ...] = ()  # CIDRs internal addresses may still be delivered to
    retry_schedule_s: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    retry_jitter: float = 0.2
    throttled_min_wait_s: float = 60  # after a timeout or a 429
    retry_after_max_s: float = 36000
    disable_after_s: float = 5 * 86400  # continuous failure before an endpoint is disabled
    secret_overlap_s: float = 86400
    connect_timeout_s: float = 5
    total_timeout_s: float = 15
    response_cap_bytes: int = 4096
    max_in_flight: int = 32  # per endpoint
    max_per_s: int = 100  # per endpoint
    worker_concurrency: int = 512  # requests in flight per delivery worker process
    lease_s: float = 60  # a claimed delivery returns to the queue if its worker dies
    reclaim_idle_ms: int = 30_000  # dispatcher: take over entries pending this long
    retention_s: int = 30 * 86400


@dataclass(frozen=True)
class PusherSettings:
    """``HUB_PUSHER_*``: HLD over Pusher (hub/receive); HLD's key and cluster are its credentials."""

    host: str | None = None  # ws(s)://host[:port] instead of wss://ws-{cluster}.pusher.com
    channels_per_connection: int = 100
    coalesce_ms: int = 1000  # keep the latest position per shipment within this window (0: off)
    pong_timeout_ms: int = 30_000  # after our ping, reconnect when nothing arrives within this
    backoff_min_ms: int = 500
    backoff_max_ms: int = 30_000
    lease_ttl_ms: int = 5_000  # a worker silent this long is dead; survivors take its channels
    gapfill_concurrency: int = 20  # parallel GETs to HLD's tracking endpoint after a (re)connect
    gapfill_timeout_ms: int = 10_000
    webhook_app_id: str | None = None  # the Pusher app whose webhooks POST /ingest/pusher accepts
    webhook_key: str | None = None
    webhook_secret: Secret | None = None


@dataclass(frozen=True)
class LiveSettings:
    """``HUB_LIVE_*``: live fan-out (hub/live): WebSockets, the Pusher-compatible endpoint, the map."""

    history_count: int = 50  # events in a snapshot's history
    recover_max: int = 1000  # missed events replayed on reconnect before a fresh snapshot instead
    queue_max: int = 256  # unsent messages per socket before it is closed as too slow
    ping_interval_s: float = 25.0
    max_per_ip: int = 100  # open live sockets per client IP, across every process
    max_per_merchant: int = 1000  # open merchant-scope live sockets per merchant, across every process
    lease_s: float = 30.0  # a dead process's sockets stop counting against the limits after this
    token_ttl_s: int = 300  # lifetime of a browser token from POST /v1/live/tokens
    show_phones: bool = False  # show phone numbers unmasked to tracking-token viewers
    pusher_key: str = "hub"  # app key in /app/{key}
    pusher_secret: Secret | None = None  # signs private-channel auth; unset disables private channels
    tile_url: str = field(  # "" for no tiles
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png", metadata={"empty_is_value": True}
    )
    send_buffer_bytes: int = 0  # SO_SNDBUF of served sockets (0: the kernel's autotuning)
    compression: bool = False  # per-message deflate on live sockets (CPU and ~300 KiB per socket)


@dataclass(frozen=True)
class ConsoleSettings:
    """``HUB_CONSOLE_*``: the merchant console's sessions and pages (hub/console, docs/console.md)."""

    session_idle_s: int = 1800  # a console session unused this long ends
    session_max_s: int = 43_200  # a session ends this long after sign-in, however much it is used
    fleet_max: int = 500  # active shipments the fleet map shows (newest first)
    fleet_scan_max: int = 5000  # shipments read, newest first, to find them
    page_size: int = 25  # shipments per page of the list
    max_form_bytes: int = 16_384  # largest console form body (sign-in, sign-out)
    # Set by `hub dev` only: GET /console/signin/link signs in with a one-time ticket `hub dev` mints.
    dev_signin_links: bool = False


@dataclass(frozen=True)
class HldBulkSettings:
    """``HUB_HLD_BULK_*``: HLD's order list read in pages instead of one tracking call per order."""

    interval_s: float = 120.0  # 0: off; needs HUB_HLD_TOKEN (workers/reconcile.py)
    per_page: int = 100
    max_pages: int = 20
