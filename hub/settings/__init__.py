"""The hub's one settings object, read from ``HUB_*`` environment variables, grouped by feature.

Every variable is named after its field (:mod:`hub.settings.reading`): a top-level field
``public_url`` is ``HUB_PUBLIC_URL``, the field ``max_in_flight`` of the ``webhook`` group
is ``HUB_WEBHOOK_MAX_IN_FLIGHT``. Nothing is read at import time: processes call
:meth:`Settings.from_env` once and pass the result down, so tests build settings
explicitly. Secrets are :class:`Secret`, which never prints.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.errors import ConfigError
from hub.settings.features import (
    ConsoleSettings,
    HldBulkSettings,
    LiveSettings,
    MerchantStreamSettings,
    PusherSettings,
    StreamSettings,
    WebhookSettings,
)
from hub.settings.providers import (
    PROVIDERS,
    PUSH_PROVIDERS,
    PollSettings,
    ProviderPoll,
    ProviderSettings,
    RateLimit,
)
from hub.settings.reading import Secret, read_group, variable

__all__ = [
    "PROVIDERS",
    "PUSH_PROVIDERS",
    "ConsoleSettings",
    "HldBulkSettings",
    "LiveSettings",
    "MerchantStreamSettings",
    "PollSettings",
    "ProviderPoll",
    "ProviderSettings",
    "PusherSettings",
    "RateLimit",
    "Secret",
    "Settings",
    "StreamSettings",
    "WebhookSettings",
    "variables",
]

DURABILITIES = ("written", "fsync")  # HUB_INGEST_DURABILITY, docs/ingest.md

# Each group and the prefix of its variables.
GROUPS: dict[str, tuple[type[Any], str]] = {
    "stream": (StreamSettings, "HUB_STREAM_"),
    "merchant_stream": (MerchantStreamSettings, "HUB_MERCHANT_STREAM_"),
    "webhook": (WebhookSettings, "HUB_WEBHOOK_"),
    "pusher": (PusherSettings, "HUB_PUSHER_"),
    "live": (LiveSettings, "HUB_LIVE_"),
    "hld_bulk": (HldBulkSettings, "HUB_HLD_BULK_"),
    "console": (ConsoleSettings, "HUB_CONSOLE_"),
}


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    redis_cluster: bool = False
    # RQ cannot run on a Redis Cluster: its queues may live on a server of their own (default: HUB_REDIS_URL).
    queue_redis_url: str | None = None
    admin_token: Secret | None = None
    public_url: str = "http://127.0.0.1:8000"
    data_dir: Path = Path(".hub-data")
    max_body_bytes: int = 256 * 1024
    max_json_depth: int = 64  # nesting of any JSON body or frame (hub/model/safejson.py, docs/api-errors.md)
    max_json_number_digits: int = 100  # digits in one JSON number
    outbox_lease_ms: int = 30_000
    inbox_reclaim_idle_ms: int = 30_000  # normalizer: take over inbox entries pending this long
    # normalizer: after a short batch, read again this much later, so a batch's round trips serve several
    normalizer_linger_ms: int = 15
    # Handling attempts of one inbox entry, Pusher event, poll answer, dispatcher entry or webhook
    # delivery (failing on its data) before it is dead-lettered.
    poison_attempts_max: int = 5
    ingest_durability: str = "written"  # "fsync": a receiver's 202 waits for the AOF fsync (WAITAOF)
    ingest_fsync_timeout_ms: int = 2000  # fsync: longest wait for WAITAOF before answering 503
    receive_inline: bool = False  # receivers append events before answering (no inbox, no normalizer)
    receiver_secret_overlap_s: float = 86_400.0  # a rotated Alopeyk receiver URL keeps working this long
    metrics_token: Secret | None = None
    # A shipment's keys are kept this long after its terminal status (0: forever); docs/retention.md.
    shipment_retention_s: int = 90 * 86400
    log_level: str = "info"
    stream: StreamSettings = field(default_factory=StreamSettings)
    merchant_stream: MerchantStreamSettings = field(default_factory=MerchantStreamSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    pusher: PusherSettings = field(default_factory=PusherSettings)
    live: LiveSettings = field(default_factory=LiveSettings)
    hld_bulk: HldBulkSettings = field(default_factory=HldBulkSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    poll: PollSettings = field(default_factory=PollSettings)
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        groups: dict[str, Any] = {
            name: read_group(group, env, prefix) for name, (group, prefix) in GROUPS.items()
        }
        groups["poll"] = PollSettings.from_env(env)
        groups["providers"] = {name: ProviderSettings.from_env(env, name) for name in PROVIDERS}
        read = read_group(cls, env, "HUB_", fixed=groups)
        return dataclasses.replace(
            read,
            public_url=read.public_url.rstrip("/"),
            queue_redis_url=read.queue_redis_url or read.redis_url,
        )

    def __post_init__(self) -> None:
        if self.ingest_durability not in DURABILITIES:
            choices = ", ".join(DURABILITIES)
            raise ConfigError(
                f"HUB_INGEST_DURABILITY must be one of {choices}, got {self.ingest_durability!r}"
            )
        if self.ingest_durability == "fsync" and self.receive_inline:
            raise ConfigError(
                "HUB_INGEST_DURABILITY=fsync covers the inbox only: unset HUB_RECEIVE_INLINE to use it"
            )
        if self.receiver_secret_overlap_s < 0:
            raise ConfigError(
                f"HUB_RECEIVER_SECRET_OVERLAP_S must be 0 or more, got {self.receiver_secret_overlap_s}"
            )
        if self.normalizer_linger_ms < 0:
            raise ConfigError(f"HUB_NORMALIZER_LINGER_MS must be 0 or more, got {self.normalizer_linger_ms}")
        for name in ("poison_attempts_max", "ingest_fsync_timeout_ms"):
            if getattr(self, name) < 1:
                raise ConfigError(f"HUB_{name.upper()} must be at least 1, got {getattr(self, name)}")

    def provider(self, name: str) -> ProviderSettings:
        return self.providers.get(name) or ProviderSettings.defaults(name)

    def delay_grace(self, provider: str) -> float:
        """Seconds past the ETA before a shipment of ``provider`` is late."""
        return self.provider(provider).delay_grace_s

    def replace(self, **changes: Any) -> Settings:
        """A copy with fields changed; a group's field by its variable's name (``webhook_allow_http=``)."""
        top: dict[str, Any] = {}
        grouped: dict[str, dict[str, Any]] = {}
        for name, value in changes.items():
            group = next((g for g in GROUPS if name.startswith(g + "_") and name not in _FIELDS), None)
            if group is None:
                top[name] = value
            else:
                grouped.setdefault(group, {})[name.removeprefix(group + "_")] = value
        for group, values in grouped.items():
            top[group] = dataclasses.replace(getattr(self, group), **values)
        return dataclasses.replace(self, **top)


_FIELDS = {f.name for f in dataclasses.fields(Settings)}


def variables() -> list[str]:
    """Every variable the hub reads, but the per-provider ones (``HUB_<PROVIDER>_...``)."""
    fixed = {*GROUPS, "poll", "providers"}
    names = [variable("HUB_", f) for f in dataclasses.fields(Settings) if f.name not in fixed]
    for group, prefix in GROUPS.values():
        names += [variable(prefix, f) for f in dataclasses.fields(group)]
    names += [
        variable("HUB_POLL_", f)
        for f in dataclasses.fields(PollSettings)
        if f.metadata.get("env") is not False
    ]
    return names
