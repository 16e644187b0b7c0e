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
    admin_token: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    data_dir: Path = Path(".hub-data")
    max_body_bytes: int = 256 * 1024
    stream_maxlen: int = 1_000_000
    stream_max_age_s: int = 0
    outbox_lease_ms: int = 30_000
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)
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
            **_pusher(env),
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
    """The ``HUB_PUSHER_*`` block (see the Settings fields of the same names)."""
    numbers = {
        name: _int(env, f"HUB_{name.upper()}", getattr(Settings, name))
        for name in (
            "pusher_channels_per_connection",
            "pusher_coalesce_ms",
            "pusher_pong_timeout_ms",
            "pusher_backoff_min_ms",
            "pusher_backoff_max_ms",
            "pusher_lease_ttl_ms",
            "pusher_gapfill_concurrency",
            "pusher_gapfill_timeout_ms",
        )
    }
    texts = {
        name: env.get(f"HUB_{name.upper()}") or None
        for name in ("pusher_host", "pusher_webhook_app_id", "pusher_webhook_key", "pusher_webhook_secret")
    }
    return {**numbers, **texts}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
