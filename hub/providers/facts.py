"""What a provider declares about itself, so that settings, poller and docs need not know it.

Adding a provider is one module in this package declaring its :class:`ProviderFacts`,
its status table and its normalizer, plus its client and emulator; everything else
iterates :data:`hub.providers.MODULES`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PollDefaults:
    """How often its shipments are polled, unless ``HUB_<PROVIDER>_POLL_*`` says otherwise."""

    interval_s: float  # while the shipment changes
    idle_interval_s: float  # after HUB_POLL_IDLE_AFTER_S without change
    near_eta_interval_s: float  # within HUB_POLL_NEAR_ETA_S of the ETA
    rate_limits: str = ""  # "requests/window_s" pairs per account, comma separated; "" for none
    # A terminal code its flow documents as followed by a final one (hub.model.flow) is polled
    # this often until that final code, for at most final_wait_s.
    final_interval_s: float = 1800
    final_wait_s: float = 86400


HYPERLOCAL = PollDefaults(
    interval_s=30, idle_interval_s=120, near_eta_interval_s=15, final_interval_s=120, final_wait_s=3600
)
PARCEL = PollDefaults(interval_s=300, idle_interval_s=900, near_eta_interval_s=60)


@dataclass(frozen=True)
class ProviderFacts:
    display_name: str  # its real name, as a recipient knows it ("AL Services HLD", not ``hld``)
    base_url: str  # production; HUB_<PROVIDER>_BASE_URL points elsewhere (an emulator)
    timezone: str  # the zone of its naive times when the payload carries no offset
    credentials: tuple[str, ...]  # read from HUB_<PROVIDER>_<NAME>
    poll: PollDefaults
    pushes: bool = False  # it pushes its events: polled only to reconcile after silence
    # How long past its ETA a shipment may run before the hub calls it late (shipment.delayed):
    # hyperlocal couriers promise minutes, parcel and cargo carriers hours.
    delay_grace_s: float = 3600
