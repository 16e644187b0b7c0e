"""Every Redis key the hub uses is named here, and only here.

Keys that belong to one shipment share the hash tag ``{<shipment_id>}`` so that a
shipment's history, state and dedup index live in one Redis Cluster slot and can be
updated by one atomic script.
"""

from __future__ import annotations

PREFIX = "hub"

# Streams shared by everything.
EVENTS = f"{PREFIX}:events"
DEADLETTER = f"{PREFIX}:deadletter"
DEADLETTER_REPLAYED = f"{PREFIX}:deadletter:replayed"  # hash: entry id -> replay outcome
METRICS = f"{PREFIX}:metrics"  # hash: Prometheus series -> value, shared by every process


def shipment(shipment_id: str) -> str:
    """Hash: registration fields and current state."""
    return f"{PREFIX}:{{{shipment_id}}}:shipment"


def history(shipment_id: str) -> str:
    """Stream: every event of one shipment, in sequence order."""
    return f"{PREFIX}:{{{shipment_id}}}:history"


def seen(shipment_id: str) -> str:
    """Hash: event id -> history entry id, so a change is recorded once."""
    return f"{PREFIX}:{{{shipment_id}}}:seen"


def outbox(shipment_id: str) -> str:
    """Sorted set: history entries not yet confirmed on the global stream, scored by lease expiry (ms)."""
    return f"{PREFIX}:{{{shipment_id}}}:outbox"


def shipment_keys(shipment_id: str) -> list[str]:
    """The keys the append script touches, in the order it expects them."""
    return [shipment(shipment_id), history(shipment_id), seen(shipment_id), outbox(shipment_id)]


def provider_ref(provider: str, ref: str) -> str:
    """String: the shipment id registered for a provider's own reference."""
    return f"{PREFIX}:ref:{provider}:{ref}"


def tracking_token(token: str) -> str:
    """String: the shipment id behind a public tracking token."""
    return f"{PREFIX}:token:{token}"


def merchant(merchant_id: str) -> str:
    """Hash: a merchant's name and hashed credentials."""
    return f"{PREFIX}:merchant:{merchant_id}"


def merchant_shipments(merchant_id: str) -> str:
    """Sorted set: a merchant's shipment ids scored by registration time (ms)."""
    return f"{PREFIX}:merchant:{merchant_id}:shipments"


def api_key(key_hash: str) -> str:
    """String: the merchant id behind an API key's SHA-256."""
    return f"{PREFIX}:apikey:{key_hash}"


def alopeyk_secret(secret_hash: str) -> str:
    """String: the merchant id behind an Alopeyk receiver secret's SHA-256."""
    return f"{PREFIX}:alopeyk-secret:{secret_hash}"


def unknown_codes() -> str:
    """Hash: ``provider:code`` -> how often an unmapped status code was seen."""
    return f"{PREFIX}:stats:unknown-codes"


# Live fan-out (hub/live).
def live_token(token_hash: str) -> str:
    """String with a TTL: the merchant id behind a short-lived browser token's SHA-256."""
    return f"{PREFIX}:live-token:{token_hash}"
