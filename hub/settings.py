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
    redis_cluster: bool = False
    admin_token: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    data_dir: Path = Path(".hub-data")
    max_body_bytes: int = 256 * 1024
    stream_maxlen: int = 1_000_000
    stream_max_age_s: int = 0
    outbox_lease_ms: int = 30_000
    metrics_token: str | None = None
    log_level: str = "info"
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            redis_url=env.get("HUB_REDIS_URL") or None,
            redis_cluster=_bool(env, "HUB_REDIS_CLUSTER"),
            admin_token=env.get("HUB_ADMIN_TOKEN") or None,
            public_url=env.get("HUB_PUBLIC_URL", cls.public_url).rstrip("/"),
            data_dir=Path(env.get("HUB_DATA_DIR", str(cls.data_dir))),
            max_body_bytes=_int(env, "HUB_MAX_BODY_BYTES", cls.max_body_bytes),
            stream_maxlen=_int(env, "HUB_STREAM_MAXLEN", cls.stream_maxlen),
            stream_max_age_s=_int(env, "HUB_STREAM_MAX_AGE_S", cls.stream_max_age_s),
            outbox_lease_ms=_int(env, "HUB_OUTBOX_LEASE_MS", cls.outbox_lease_ms),
            metrics_token=env.get("HUB_METRICS_TOKEN") or None,
            log_level=env.get("HUB_LOG_LEVEL", cls.log_level),
            providers={name: _provider(env, name) for name in PROVIDERS},
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


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false, got {raw!r}")
