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
            **_webhook_settings(env),
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


# --- merchant webhooks ---


def _webhook_settings(env: Mapping[str, str]) -> dict[str, Any]:
    d = Settings
    schedule = _csv(env, "HUB_WEBHOOK_RETRY_SCHEDULE_S")
    return {
        "webhook_master_keys": _csv(env, "HUB_WEBHOOK_MASTER_KEYS"),
        "webhook_allow_http": env.get("HUB_WEBHOOK_ALLOW_HTTP", "").lower() in ("1", "true", "yes"),
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


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    return default if raw is None or raw == "" else _number(name, raw)


def _number(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
