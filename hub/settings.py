"""The hub's one settings object, read from ``HUB_*`` environment variables.

Nothing is read at import time: processes call :meth:`Settings.from_env` once
and pass the result down, so tests build settings explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

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
    admin_token: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    data_dir: Path = Path(".hub-data")
    max_body_bytes: int = 256 * 1024
    stream_maxlen: int = 1_000_000
    stream_max_age_s: int = 0
    outbox_lease_ms: int = 30_000
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)
    # Live fan-out (hub/live): WebSockets, the Pusher-compatible endpoint and the tracking map.
    live_history_count: int = 50  # events in a snapshot's history
    live_recover_max: int = 1000  # missed events replayed on reconnect before a fresh snapshot instead
    live_queue_max: int = 256  # unsent messages per socket before it is closed as too slow
    live_ping_interval_s: float = 25.0
    live_max_per_ip: int = 100  # open live sockets per client IP, per process
    live_max_per_merchant: int = 1000  # open merchant-scope live sockets per merchant, per process
    live_token_ttl_s: int = 300  # lifetime of a browser token from POST /v1/live/tokens
    live_show_phones: bool = False  # show phone numbers unmasked to tracking-token viewers
    live_pusher_key: str = "hub"  # app key in /app/{key}
    live_pusher_secret: str | None = None  # signs private-channel auth; unset disables private channels
    live_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"  # "" for no tiles
    live_send_buffer_bytes: int = 0  # SO_SNDBUF of served sockets (0: the kernel's autotuning)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            redis_url=env.get("HUB_REDIS_URL") or None,
            admin_token=env.get("HUB_ADMIN_TOKEN") or None,
            public_url=env.get("HUB_PUBLIC_URL", cls.public_url).rstrip("/"),
            data_dir=Path(env.get("HUB_DATA_DIR", str(cls.data_dir))),
            max_body_bytes=_int(env, "HUB_MAX_BODY_BYTES", cls.max_body_bytes),
            stream_maxlen=_int(env, "HUB_STREAM_MAXLEN", cls.stream_maxlen),
            stream_max_age_s=_int(env, "HUB_STREAM_MAX_AGE_S", cls.stream_max_age_s),
            outbox_lease_ms=_int(env, "HUB_OUTBOX_LEASE_MS", cls.outbox_lease_ms),
            providers={name: _provider(env, name) for name in PROVIDERS},
            # Live fan-out (hub/live).
            live_history_count=_int(env, "HUB_LIVE_HISTORY_COUNT", cls.live_history_count),
            live_recover_max=_int(env, "HUB_LIVE_RECOVER_MAX", cls.live_recover_max),
            live_queue_max=_int(env, "HUB_LIVE_QUEUE_MAX", cls.live_queue_max),
            live_ping_interval_s=float(env.get("HUB_LIVE_PING_INTERVAL_S") or cls.live_ping_interval_s),
            live_max_per_ip=_int(env, "HUB_LIVE_MAX_PER_IP", cls.live_max_per_ip),
            live_max_per_merchant=_int(env, "HUB_LIVE_MAX_PER_MERCHANT", cls.live_max_per_merchant),
            live_token_ttl_s=_int(env, "HUB_LIVE_TOKEN_TTL_S", cls.live_token_ttl_s),
            live_show_phones=env.get("HUB_LIVE_SHOW_PHONES", "").lower() in ("1", "true", "yes"),
            live_pusher_key=env.get("HUB_LIVE_PUSHER_KEY") or cls.live_pusher_key,
            live_pusher_secret=env.get("HUB_LIVE_PUSHER_SECRET") or None,
            live_tile_url=env.get("HUB_LIVE_TILE_URL", cls.live_tile_url),
            live_send_buffer_bytes=_int(env, "HUB_LIVE_SEND_BUFFER_BYTES", cls.live_send_buffer_bytes),
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


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
