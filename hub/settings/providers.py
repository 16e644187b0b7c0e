"""Where each provider lives, how the hub authenticates to it, and how often it is polled.

``HUB_<PROVIDER>_BASE_URL`` / ``_TIMEZONE`` / credentials, ``HUB_<PROVIDER>_POLL_*`` and
``_RATE_LIMITS`` per provider; ``HUB_POLL_*`` for the poller as a whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from hub.errors import ConfigError
from hub.providers import MODULES
from hub.settings.reading import read_group

FACTS = {module.NAME: module.FACTS for module in MODULES}
PROVIDERS = tuple(FACTS)

# Push providers are polled only to reconcile, after their push channel was silent this long.
PUSH_PROVIDERS = tuple(name for name, facts in FACTS.items() if facts.pushes)


@dataclass(frozen=True)
class ProviderSettings:
    """Where one provider lives and how the hub authenticates to it."""

    name: str
    base_url: str
    timezone: str
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)  # never printed
    delay_grace_s: float = 3600.0  # ETA plus this without a terminal status is late (shipment.delayed)

    @property
    def configured(self) -> bool:
        return bool(self.credentials)

    @classmethod
    def defaults(cls, name: str) -> ProviderSettings:
        facts = FACTS[name]
        return cls(name, facts.base_url, facts.timezone, delay_grace_s=facts.delay_grace_s)

    @classmethod
    def from_env(cls, env: Mapping[str, str], name: str) -> ProviderSettings:
        prefix = f"HUB_{name.upper()}_"
        credentials = {
            key.lower(): env[prefix + key] for key in FACTS[name].credentials if env.get(prefix + key)
        }
        read = read_group(
            cls,
            env,
            prefix,
            defaults=vars(cls.defaults(name)),
            fixed={"name": name, "credentials": credentials},
        )
        return dataclasses.replace(read, base_url=read.base_url.rstrip("/"))


@dataclass(frozen=True)
class RateLimit:
    requests: int
    window_s: int


@dataclass(frozen=True)
class ProviderPoll:
    """``HUB_<PROVIDER>_POLL_*``: how often one provider's shipments are polled."""

    interval_s: float  # while the shipment changes
    idle_interval_s: float  # after HUB_POLL_IDLE_AFTER_S without change
    near_eta_interval_s: float  # within HUB_POLL_NEAR_ETA_S of the ETA
    rate_limits: tuple[RateLimit, ...] = field(default=(), metadata={"env": False})
    final_interval_s: float = 1800.0  # terminal, awaiting the final code its flow documents
    final_wait_s: float = 86400.0  # and for at most this long after the first confirming poll

    @classmethod
    def defaults(cls, name: str) -> ProviderPoll:
        poll = FACTS[name].poll
        return cls(
            poll.interval_s,
            poll.idle_interval_s,
            poll.near_eta_interval_s,
            rate_limits(poll.rate_limits, name),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str], name: str) -> ProviderPoll:
        base, variable = cls.defaults(name), f"HUB_{name.upper()}_RATE_LIMITS"
        limits = rate_limits(env[variable], variable) if variable in env else base.rate_limits
        return read_group(
            cls, env, f"HUB_{name.upper()}_POLL_", defaults=vars(base), fixed={"rate_limits": limits}
        )


def rate_limits(raw: str, variable: str) -> tuple[RateLimit, ...]:
    """``"100/60,43200/86400"``: requests per window, comma separated; empty: unlimited."""
    limits = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        requests, _, window_s = part.partition("/")
        try:
            limits.append(RateLimit(int(requests), int(window_s)))
        except ValueError:
            raise ConfigError(f"{variable} must look like '100/60,43200/86400', got {raw!r}") from None
    return tuple(limits)


@dataclass(frozen=True)
class PollSettings:
    """``HUB_POLL_*``: the poller (workers/, hub/clients/): cadence, limits, faults, timeouts."""

    providers: Mapping[str, ProviderPoll] = field(default_factory=dict, metadata={"env": False})
    idle_after_s: float = 3600.0
    near_eta_s: float = 900.0
    reconcile_after_s: float = 300.0  # push silence before HLD/Alopeyk are polled
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
    # The Client API document names no paths.
    alclient_login_path: str = field(default="/login", metadata={"env": "HUB_ALCLIENT_LOGIN_PATH"})
    alclient_tracking_path: str = field(
        default="/orders/{order_id}/tracking", metadata={"env": "HUB_ALCLIENT_TRACKING_PATH"}
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PollSettings:
        providers = {name: ProviderPoll.from_env(env, name) for name in PROVIDERS}
        return read_group(cls, env, "HUB_POLL_", fixed={"providers": providers})

    def provider(self, name: str) -> ProviderPoll:
        return self.providers.get(name) or ProviderPoll.defaults(name)
