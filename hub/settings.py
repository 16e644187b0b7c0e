"""The hub's one settings object, read from ``HUB_*`` environment variables.

Nothing is read at import time: processes call :meth:`Settings.from_env` once
and pass the result down, so tests build settings explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hub.errors import ConfigError

PROVIDERS = ("alopeyk", "hld", "alclient", "alod", "all24")

_DEFAULT_BASE_URLS = {
    "alopeyk": "https://api.alopeyk.com",
    "hld": "https://delivery.alfast.in",
    "alclient": "https://delivery.alfast.in/api/v1/client",
    "alod": "https://www.alod.net/mobile_api",
    "all24": "https://api.all24.com",
}

# Zones used when a provider sends a time without an offset and the payload has none either.
_DEFAULT_ZONES = {
    "alopeyk": "Asia/Tehran",
    "hld": "Asia/Kolkata",
    "alclient": "Asia/Kolkata",
    "alod": "Asia/Riyadh",
    "all24": "Asia/Bangkok",
}


@dataclass(frozen=True)
class ProviderSettings:
    """Where one provider lives and how the hub authenticates to it."""

    name: str
    base_url: str
    timezone: str
    credentials: Mapping[str, str] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.credentials)


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    redis_cluster: bool = False
    # RQ cannot run on a Redis Cluster: its queues may live on a server of their own.
    queue_redis_url: str | None = None
    admin_token: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    data_dir: Path = Path(".hub-data")
    max_body_bytes: int = 256 * 1024
    stream_maxlen: int = 1_000_000
    stream_max_age_s: int = 0
    outbox_lease_ms: int = 30_000
    inbox_reclaim_idle_ms: int = 30_000  # normalizer: take over inbox entries pending this long
    poison_attempts_max: int = 5  # an entry or delivery failing this often on its data is dead-lettered
    receive_inline: bool = False  # receivers append events before answering (no inbox, no normalizer)
    metrics_token: str | None = None
    log_level: str = "info"
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)
    poll: PollSettings = field(default_factory=lambda: PollSettings())
    # --- merchant webhooks (hub/webhooks, docs/webhooks.md) ---
    webhook_master_keys: tuple[str, ...] = ()  # Fernet keys, newest first; empty: secrets kept in clear
    webhook_allow_http: bool = False
    webhook_allow_networks: tuple[str, ...] = ()  # CIDRs internal addresses may still be delivered to
    webhook_retry_schedule_s: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    webhook_retry_jitter: float = 0.2
    webhook_throttled_min_wait_s: float = 60  # after a timeout or a 429
    webhook_retry_after_max_s: float = 36000
    webhook_disable_after_s: float = 5 * 86400  # continuous failure before an endpoint is disabled
    webhook_secret_overlap_s: float = 86400
    webhook_connect_timeout_s: float = 5
    webhook_total_timeout_s: float = 15
    webhook_response_cap_bytes: int = 4096
    webhook_max_in_flight: int = 32  # per endpoint
    webhook_max_per_s: int = 100  # per endpoint
    webhook_worker_concurrency: int = 512  # requests in flight per delivery worker process
    webhook_lease_s: float = 60  # a claimed delivery returns to the queue if its worker dies
    webhook_reclaim_idle_ms: int = 30_000  # dispatcher: take over entries pending this long
    webhook_retention_s: int = 30 * 86400
    webhook_queue: str = "hub-webhooks"
    # --- HLD over Pusher (hub/pusher, POST /ingest/pusher); key and cluster are HLD credentials ---
    pusher_host: str | None = None  # ws(s)://host[:port] instead of wss://ws-{cluster}.pusher.com
    pusher_channels_per_connection: int = 100
    pusher_coalesce_ms: int = 1000  # keep the latest position per shipment within this window (0: off)
    pusher_pong_timeout_ms: int = 30_000  # after our ping, reconnect when nothing arrives within this
    pusher_backoff_min_ms: int = 500
    pusher_backoff_max_ms: int = 30_000
    pusher_lease_ttl_ms: int = 5_000  # a worker silent this long is dead; survivors take its channels
    pusher_gapfill_concurrency: int = 20  # parallel GETs to HLD's tracking endpoint after a (re)connect
    pusher_gapfill_timeout_ms: int = 10_000
    pusher_webhook_app_id: str | None = None  # the Pusher app whose webhooks POST /ingest/pusher accepts
    pusher_webhook_key: str | None = None
    pusher_webhook_secret: str | None = None
    # Live fan-out (hub/live): WebSockets, the Pusher-compatible endpoint and the tracking map.
    live_history_count: int = 50  # events in a snapshot's history
    live_recover_max: int = 1000  # missed events replayed on reconnect before a fresh snapshot instead
    live_queue_max: int = 256  # unsent messages per socket before it is closed as too slow
    live_ping_interval_s: float = 25.0
    live_max_per_ip: int = 100  # open live sockets per client IP, across every process
    live_max_per_merchant: int = 1000  # open merchant-scope live sockets per merchant, across every process
    live_lease_s: float = 30.0  # a dead process's sockets stop counting against the limits after this
    live_token_ttl_s: int = 300  # lifetime of a browser token from POST /v1/live/tokens
    live_show_phones: bool = False  # show phone numbers unmasked to tracking-token viewers
    live_pusher_key: str = "hub"  # app key in /app/{key}
    live_pusher_secret: str | None = None  # signs private-channel auth; unset disables private channels
    live_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"  # "" for no tiles
    live_send_buffer_bytes: int = 0  # SO_SNDBUF of served sockets (0: the kernel's autotuning)
    live_compression: bool = False  # per-message deflate on live sockets (CPU and ~300 KiB per socket)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            redis_url=env.get("HUB_REDIS_URL") or None,
            redis_cluster=_bool(env, "HUB_REDIS_CLUSTER"),
            queue_redis_url=env.get("HUB_QUEUE_REDIS_URL") or env.get("HUB_REDIS_URL") or None,
            admin_token=env.get("HUB_ADMIN_TOKEN") or None,
            public_url=env.get("HUB_PUBLIC_URL", cls.public_url).rstrip("/"),
            data_dir=Path(env.get("HUB_DATA_DIR", str(cls.data_dir))),
            max_body_bytes=_int(env, "HUB_MAX_BODY_BYTES", cls.max_body_bytes),
            stream_maxlen=_int(env, "HUB_STREAM_MAXLEN", cls.stream_maxlen),
            stream_max_age_s=_int(env, "HUB_STREAM_MAX_AGE_S", cls.stream_max_age_s),
            outbox_lease_ms=_int(env, "HUB_OUTBOX_LEASE_MS", cls.outbox_lease_ms),
            inbox_reclaim_idle_ms=_int(env, "HUB_INBOX_RECLAIM_IDLE_MS", cls.inbox_reclaim_idle_ms),
            poison_attempts_max=max(1, _int(env, "HUB_POISON_ATTEMPTS_MAX", cls.poison_attempts_max)),
            receive_inline=_bool(env, "HUB_RECEIVE_INLINE"),
            metrics_token=env.get("HUB_METRICS_TOKEN") or None,
            log_level=env.get("HUB_LOG_LEVEL", cls.log_level),
            providers={name: _provider(env, name) for name in PROVIDERS},
            poll=PollSettings.from_env(env),
            **_webhook_settings(env),
            **_pusher(env),
            # Live fan-out (hub/live).
            live_history_count=_int(env, "HUB_LIVE_HISTORY_COUNT", cls.live_history_count),
            live_recover_max=_int(env, "HUB_LIVE_RECOVER_MAX", cls.live_recover_max),
            live_queue_max=_int(env, "HUB_LIVE_QUEUE_MAX", cls.live_queue_max),
            live_ping_interval_s=float(env.get("HUB_LIVE_PING_INTERVAL_S") or cls.live_ping_interval_s),
            live_max_per_ip=_int(env, "HUB_LIVE_MAX_PER_IP", cls.live_max_per_ip),
            live_max_per_merchant=_int(env, "HUB_LIVE_MAX_PER_MERCHANT", cls.live_max_per_merchant),
            live_lease_s=_float(env, "HUB_LIVE_LEASE_S", cls.live_lease_s),
            live_token_ttl_s=_int(env, "HUB_LIVE_TOKEN_TTL_S", cls.live_token_ttl_s),
            live_show_phones=_bool(env, "HUB_LIVE_SHOW_PHONES"),
            live_pusher_key=env.get("HUB_LIVE_PUSHER_KEY") or cls.live_pusher_key,
            live_pusher_secret=env.get("HUB_LIVE_PUSHER_SECRET") or None,
            live_tile_url=env.get("HUB_LIVE_TILE_URL", cls.live_tile_url),
            live_send_buffer_bytes=_int(env, "HUB_LIVE_SEND_BUFFER_BYTES", cls.live_send_buffer_bytes),
            live_compression=_bool(env, "HUB_LIVE_COMPRESSION"),
        )

    def provider(self, name: str) -> ProviderSettings:
        if name in self.providers:
            return self.providers[name]
        return ProviderSettings(name, _DEFAULT_BASE_URLS[name], _DEFAULT_ZONES[name])

    def replace(self, **changes: object) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


# Credential variables per provider: HUB_<PROVIDER>_<NAME>.
_CREDENTIALS = {
    "alopeyk": ("TOKEN",),
    "hld": ("TOKEN", "PUSHER_KEY", "PUSHER_CLUSTER"),
    "alclient": ("MOBILE", "PASSWORD"),
    "alod": ("AUTHKEY", "USER_ID"),
    "all24": ("API_KEY",),
}


def _provider(env: Mapping[str, str], name: str) -> ProviderSettings:
    prefix = f"HUB_{name.upper()}_"
    credentials = {key.lower(): env[prefix + key] for key in _CREDENTIALS[name] if env.get(prefix + key)}
    return ProviderSettings(
        name=name,
        base_url=env.get(prefix + "BASE_URL", _DEFAULT_BASE_URLS[name]).rstrip("/"),
        timezone=env.get(prefix + "TIMEZONE", _DEFAULT_ZONES[name]),
        credentials=credentials,
    )


def _pusher(env: Mapping[str, str]) -> dict[str, Any]:
    """The ``HUB_PUSHER_*`` block: each Settings field is its variable's name, lower-cased."""
    numbers = (
        "HUB_PUSHER_CHANNELS_PER_CONNECTION",
        "HUB_PUSHER_COALESCE_MS",
        "HUB_PUSHER_PONG_TIMEOUT_MS",
        "HUB_PUSHER_BACKOFF_MIN_MS",
        "HUB_PUSHER_BACKOFF_MAX_MS",
        "HUB_PUSHER_LEASE_TTL_MS",
        "HUB_PUSHER_GAPFILL_CONCURRENCY",
        "HUB_PUSHER_GAPFILL_TIMEOUT_MS",
    )
    texts = (
        "HUB_PUSHER_HOST",
        "HUB_PUSHER_WEBHOOK_APP_ID",
        "HUB_PUSHER_WEBHOOK_KEY",
        "HUB_PUSHER_WEBHOOK_SECRET",
    )
    values: dict[str, Any] = {}
    for variable in numbers:
        field_name = variable.removeprefix("HUB_").lower()
        values[field_name] = _int(env, variable, getattr(Settings, field_name))
    for variable in texts:
        values[variable.removeprefix("HUB_").lower()] = env.get(variable) or None
    return values


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


# --- The poller (workers/, hub/clients/): cadence, limits, faults, timeouts. -----------------------
# Per provider: HUB_<PROVIDER>_POLL_INTERVAL_S (while a shipment changes), _POLL_IDLE_INTERVAL_S
# (after HUB_POLL_IDLE_AFTER_S without change), _POLL_NEAR_ETA_INTERVAL_S (within HUB_POLL_NEAR_ETA_S
# of the ETA) and _RATE_LIMITS ("requests/window_s" pairs, comma separated; empty: unlimited).

# Push providers are polled only to reconcile, after their push channel was silent this long.
PUSH_PROVIDERS = ("alopeyk", "hld")

_POLL_DEFAULTS = {  # interval_s, idle_interval_s, near_eta_interval_s, rate limits
    "alopeyk": (30.0, 120.0, 15.0, "100/60,43200/86400"),
    "hld": (30.0, 120.0, 15.0, ""),
    "alclient": (300.0, 900.0, 60.0, ""),
    "alod": (300.0, 900.0, 60.0, ""),
    "all24": (300.0, 900.0, 60.0, ""),
}


@dataclass(frozen=True)
class RateLimit:
    requests: int
    window_s: int


@dataclass(frozen=True)
class ProviderPoll:
    interval_s: float
    idle_interval_s: float
    near_eta_interval_s: float
    rate_limits: tuple[RateLimit, ...] = ()


@dataclass(frozen=True)
class PollSettings:
    providers: Mapping[str, ProviderPoll] = field(default_factory=dict)
    idle_after_s: float = 3600.0
    near_eta_s: float = 900.0
    reconcile_after_s: float = 300.0
    expire_after_s: float = 14 * 86400.0
    backoff_base_s: float = 2.0
    backoff_max_s: float = 600.0
    unauthorized_pause_s: float = 300.0
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    batch_size: int = 100
    concurrency: int = 100
    tick_s: float = 0.5
    lease_s: float = 120.0
    queue: str = "hub-poll"
    alclient_login_path: str = "/login"
    alclient_tracking_path: str = "/orders/{order_id}/tracking"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PollSettings:
        return cls(
            providers={name: _provider_poll(env, name) for name in PROVIDERS},
            idle_after_s=_float(env, "HUB_POLL_IDLE_AFTER_S", cls.idle_after_s),
            near_eta_s=_float(env, "HUB_POLL_NEAR_ETA_S", cls.near_eta_s),
            reconcile_after_s=_float(env, "HUB_POLL_RECONCILE_AFTER_S", cls.reconcile_after_s),
            expire_after_s=_float(env, "HUB_POLL_EXPIRE_AFTER_S", cls.expire_after_s),
            backoff_base_s=_float(env, "HUB_POLL_BACKOFF_BASE_S", cls.backoff_base_s),
            backoff_max_s=_float(env, "HUB_POLL_BACKOFF_MAX_S", cls.backoff_max_s),
            unauthorized_pause_s=_float(env, "HUB_POLL_UNAUTHORIZED_PAUSE_S", cls.unauthorized_pause_s),
            connect_timeout_s=_float(env, "HUB_POLL_CONNECT_TIMEOUT_S", cls.connect_timeout_s),
            read_timeout_s=_float(env, "HUB_POLL_READ_TIMEOUT_S", cls.read_timeout_s),
            batch_size=_int(env, "HUB_POLL_BATCH_SIZE", cls.batch_size),
            concurrency=_int(env, "HUB_POLL_CONCURRENCY", cls.concurrency),
            tick_s=_float(env, "HUB_POLL_TICK_S", cls.tick_s),
            lease_s=_float(env, "HUB_POLL_LEASE_S", cls.lease_s),
            queue=env.get("HUB_POLL_QUEUE") or cls.queue,
            alclient_login_path=env.get("HUB_ALCLIENT_LOGIN_PATH") or cls.alclient_login_path,
            alclient_tracking_path=env.get("HUB_ALCLIENT_TRACKING_PATH") or cls.alclient_tracking_path,
        )

    def provider(self, name: str) -> ProviderPoll:
        if name in self.providers:
            return self.providers[name]
        interval_s, idle_s, near_eta_s, limits = _POLL_DEFAULTS[name]
        return ProviderPoll(interval_s, idle_s, near_eta_s, _rate_limits(limits, name))


def _provider_poll(env: Mapping[str, str], name: str) -> ProviderPoll:
    prefix = f"HUB_{name.upper()}_"
    interval_s, idle_s, near_eta_s, limits = _POLL_DEFAULTS[name]
    return ProviderPoll(
        interval_s=_float(env, prefix + "POLL_INTERVAL_S", interval_s),
        idle_interval_s=_float(env, prefix + "POLL_IDLE_INTERVAL_S", idle_s),
        near_eta_interval_s=_float(env, prefix + "POLL_NEAR_ETA_INTERVAL_S", near_eta_s),
        rate_limits=_rate_limits(env.get(prefix + "RATE_LIMITS", limits), prefix + "RATE_LIMITS"),
    )


def _rate_limits(raw: str, variable: str) -> tuple[RateLimit, ...]:
    limits = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        requests, _, window_s = part.partition("/")
        try:
            limits.append(RateLimit(int(requests), int(window_s)))
        except ValueError:
            raise ConfigError(f"{variable} must look like '100/60,43200/86400', got {raw!r}") from None
    return tuple(limits)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    return default if raw is None or raw == "" else _number(name, raw)


# --- merchant webhooks ---


def _webhook_settings(env: Mapping[str, str]) -> dict[str, Any]:
    d = Settings
    schedule = _csv(env, "HUB_WEBHOOK_RETRY_SCHEDULE_S")
    return {
        "webhook_master_keys": _csv(env, "HUB_WEBHOOK_MASTER_KEYS"),
        "webhook_allow_http": _bool(env, "HUB_WEBHOOK_ALLOW_HTTP"),
        "webhook_allow_networks": _csv(env, "HUB_WEBHOOK_ALLOW_NETWORKS"),
        "webhook_retry_schedule_s": tuple(_number("HUB_WEBHOOK_RETRY_SCHEDULE_S", v) for v in schedule)
        if schedule
        else d.webhook_retry_schedule_s,
        "webhook_retry_jitter": _float(env, "HUB_WEBHOOK_RETRY_JITTER", d.webhook_retry_jitter),
        "webhook_throttled_min_wait_s": _float(
            env, "HUB_WEBHOOK_THROTTLED_MIN_WAIT_S", d.webhook_throttled_min_wait_s
        ),
        "webhook_retry_after_max_s": _float(
            env, "HUB_WEBHOOK_RETRY_AFTER_MAX_S", d.webhook_retry_after_max_s
        ),
        "webhook_disable_after_s": _float(env, "HUB_WEBHOOK_DISABLE_AFTER_S", d.webhook_disable_after_s),
        "webhook_secret_overlap_s": _float(env, "HUB_WEBHOOK_SECRET_OVERLAP_S", d.webhook_secret_overlap_s),
        "webhook_connect_timeout_s": _float(
            env, "HUB_WEBHOOK_CONNECT_TIMEOUT_S", d.webhook_connect_timeout_s
        ),
        "webhook_total_timeout_s": _float(env, "HUB_WEBHOOK_TOTAL_TIMEOUT_S", d.webhook_total_timeout_s),
        "webhook_response_cap_bytes": _int(
            env, "HUB_WEBHOOK_RESPONSE_CAP_BYTES", d.webhook_response_cap_bytes
        ),
        "webhook_max_in_flight": _int(env, "HUB_WEBHOOK_MAX_IN_FLIGHT", d.webhook_max_in_flight),
        "webhook_max_per_s": _int(env, "HUB_WEBHOOK_MAX_PER_S", d.webhook_max_per_s),
        "webhook_worker_concurrency": _int(
            env, "HUB_WEBHOOK_WORKER_CONCURRENCY", d.webhook_worker_concurrency
        ),
        "webhook_lease_s": _float(env, "HUB_WEBHOOK_LEASE_S", d.webhook_lease_s),
        "webhook_reclaim_idle_ms": _int(env, "HUB_WEBHOOK_RECLAIM_IDLE_MS", d.webhook_reclaim_idle_ms),
        "webhook_retention_s": _int(env, "HUB_WEBHOOK_RETENTION_S", d.webhook_retention_s),
        "webhook_queue": env.get("HUB_WEBHOOK_QUEUE") or d.webhook_queue,
    }


def _csv(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def _number(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
