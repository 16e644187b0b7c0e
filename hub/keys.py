"""Every Redis key the hub uses is named here, and only here.

Keys that belong to one shipment share the hash tag ``{<shipment_id>}`` so that a
shipment's history, state and dedup index live in one Redis Cluster slot and can be
updated by one atomic script.
"""

from __future__ import annotations

import zlib

PREFIX = "hub"

# Streams shared by everything.
EVENTS = f"{PREFIX}:events"  # also the channel its new entries are published on (hub/live/pushes.py)
DEADLETTER = f"{PREFIX}:deadletter"
INBOX = f"{PREFIX}:inbox"  # payloads receivers accepted, until a normalizer has turned them into events
INBOX_GROUP = "normalizers"  # consumer group of the normalizers on INBOX
DEADLETTER_REPLAYED = f"{PREFIX}:deadletter:replayed"  # hash: entry id -> replay outcome
METRICS = f"{PREFIX}:metrics"  # hash: Prometheus series -> value, shared by every process
GAUGES = f"{PREFIX}:gauges"  # hash: process id -> its current gauges and when they expire (JSON)


def shipment(shipment_id: str) -> str:
    """Hash: registration fields and current state."""
    return f"{PREFIX}:{{{shipment_id}}}:shipment"


def shipment_id_of(shipment_key: str) -> str:
    """The shipment id inside a :func:`shipment` key (found by a SCAN)."""
    return shipment_key.partition("{")[2].partition("}")[0]


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


def provider_alias(provider: str, name: str, value: str) -> str:
    """String: the shipment id behind another id the provider has for it (HLD's order id)."""
    return f"{PREFIX}:alias:{provider}:{name}:{value}"


def tracking_token(token: str) -> str:
    """String: the shipment id behind a public tracking token."""
    return f"{PREFIX}:token:{token}"


def merchant(merchant_id: str) -> str:
    """Hash: a merchant's name and hashed credentials."""
    return f"{PREFIX}:merchant:{merchant_id}"


def merchant_logo(merchant_id: str) -> str:  # string: the brand logo, base64 (type, SHA-256: merchant())
    return f"{PREFIX}:merchant:{merchant_id}:logo"


# A merchant's own stream and what the hub knows of the ACL users that read it share the hash
# tag {m:<merchant_id>}: a stream credential's key pattern names exactly one key, in one slot.
def merchant_events(merchant_id: str) -> str:
    """Stream: every event of one merchant's shipments (also on ``hub:events``), its consumers' to read."""
    return f"{PREFIX}:{{m:{merchant_id}}}:events"


def merchant_stream_users(merchant_id: str) -> str:
    """Hash: ACL user name -> JSON of a merchant's stream credential (created time, password SHA-256)."""
    return f"{PREFIX}:{{m:{merchant_id}}}:stream-users"


def merchant_deadletters(merchant_id: str) -> str:
    """List: ids of the dead letters in ``DEADLETTER`` carrying this merchant's id, newest first, capped."""
    return f"{PREFIX}:merchant:{merchant_id}:deadletters"


def merchant_shipments(merchant_id: str) -> str:
    """Sorted set: a merchant's shipment ids scored by registration time (ms)."""
    return f"{PREFIX}:merchant:{merchant_id}:shipments"


MERCHANTS = f"{PREFIX}:merchants"  # sorted set: every merchant id scored by creation time (ms)
MERCHANTS_DISABLED = f"{PREFIX}:merchants:disabled"  # set: ids of merchants the operator disabled
MERCHANTS_INDEXED = f"{PREFIX}:merchants:indexed"  # string: merchants created before MERCHANTS are in it
# counter: bumped on every revocation, rotation, disable or enable; each process rechecks it every
# second and then drops what it cached about credentials (docs/tenancy.md)
TENANCY_VERSION = f"{PREFIX}:tenancy:version"


def merchant_api_keys(merchant_id: str) -> str:
    """Hash: a merchant's API key id -> its record (name, prefix, SHA-256, created), JSON."""
    return f"{PREFIX}:merchant:{merchant_id}:apikeys"


def merchant_api_keys_used(merchant_id: str) -> str:
    """Hash: a merchant's API key id -> when it was last used (ms, written at most once a minute)."""
    return f"{PREFIX}:merchant:{merchant_id}:apikeys:used"


def api_key(key_hash: str) -> str:
    """String: the merchant id behind an API key's SHA-256."""
    return f"{PREFIX}:apikey:{key_hash}"


def alopeyk_secret(secret_hash: str) -> str:
    """String: the merchant id behind an Alopeyk receiver secret's SHA-256."""
    return f"{PREFIX}:alopeyk-secret:{secret_hash}"


def unknown_codes() -> str:
    """Hash: ``provider:code`` -> how often an unmapped status code was seen."""
    return f"{PREFIX}:stats:unknown-codes"


def merchant_lookup(merchant_id: str, field: str, value: str) -> str:
    """Sorted set: a merchant's shipment ids whose ``field`` (merchant_ref, provider_ref) is ``value``.

    The index of ``GET /v1/shipments?merchant_ref=...`` (never a scan). A score is 0 while the
    shipment is in flight, else when its entry expires (ms): :mod:`hub.registry.retention`.
    """
    return f"{PREFIX}:merchant:{merchant_id}:by-{field}:{value}"


# The poller (workers/).
POLL_DUE = f"{PREFIX}:poll:due"  # sorted set: shipment id -> when its next poll falls due (ms)
# sorted set: shipment id -> when its ETA plus the provider's grace passes (ms), for shipment.delayed
DELAY_DUE = f"{PREFIX}:delay:due"


def poll_state(shipment_id: str) -> str:
    """Hash: the poller's memory of one shipment (consecutive failures, last change seen)."""
    return f"{PREFIX}:{{{shipment_id}}}:poll"


def poll_bulk_round(provider: str) -> str:
    """String with a TTL: a bulk reconciliation round was enqueued (one per interval, any schedulers)."""
    return f"{PREFIX}:poll:bulk:{provider}"


# Keys of one provider account share the hash tag {provider:account}: the limiter touches them at once.
def rate_window(provider: str, account: str, window_s: int) -> str:
    """Sorted set: request times (ms) of one provider account within a sliding window."""
    return f"{PREFIX}:poll:{{{provider}:{account}}}:rate:{window_s}"


def provider_slowdown(provider: str, account: str) -> str:
    """String with a TTL: the provider asked us to wait (429, Retry-After, remaining 0)."""
    return f"{PREFIX}:poll:{{{provider}:{account}}}:slow"


def provider_unhealthy(provider: str, account: str) -> str:
    """String with a TTL: why the provider account refused our credentials (401)."""
    return f"{PREFIX}:poll:{{{provider}:{account}}}:unhealthy"


def alclient_token(account: str) -> str:
    """String: the AL Client API access token shared by every worker."""
    return f"{PREFIX}:poll:alclient-token:{account}"


# --- merchant webhooks (hub/webhooks) ---
# The endpoint registry is small and changes together, so it shares one hash tag, {wh}.
WEBHOOK_ENDPOINTS = f"{PREFIX}:{{wh}}:endpoints"  # set: every endpoint id
WEBHOOK_ENDPOINTS_VERSION = f"{PREFIX}:{{wh}}:endpoints:version"  # counter: bumped on every endpoint change
WEBHOOK_WAKE = f"{PREFIX}:wh:wake"  # list of at most one token: deliveries were created (hub.webhooks.wake)
WEBHOOK_GROUP = "webhooks"  # consumer group of the dispatchers on EVENTS


def webhook_endpoint(endpoint_id: str) -> str:
    """Hash: one endpoint's subscription, state and (encrypted) secrets."""
    return f"{PREFIX}:{{wh}}:endpoint:{endpoint_id}"


def webhook_merchant_endpoints(merchant_id: str) -> str:
    """Set: a merchant's endpoint ids."""
    return f"{PREFIX}:{{wh}}:merchant:{merchant_id}:endpoints"


# The delivery queue is split into partitions, each under its own hash tag {whq<n>}; every
# key of one endpoint lives in its partition, so each delivery script touches one slot and
# the partitions spread over a cluster's nodes.
WEBHOOK_PARTITIONS = 16


def webhook_partition(endpoint_id: str) -> int:
    return zlib.crc32(endpoint_id.encode()) % WEBHOOK_PARTITIONS


def webhook_due(partition: int) -> str:
    """Sorted set: "<endpoint_id>/<delivery_id>" -> when to (re)try, ms (a lane's head only)."""
    return webhook_in_partition(partition, "due")


def webhook_endpoint_deliveries(endpoint_id: str) -> str:
    """Sorted set: an endpoint's delivery ids scored by creation time (ms)."""
    return webhook_in_partition(webhook_partition(endpoint_id), f"endpoint:{endpoint_id}:deliveries")


def webhook_in_flight(endpoint_id: str) -> str:
    """Sorted set: an endpoint's deliveries being sent, scored by lease expiry (ms)."""
    return webhook_in_flight_pattern(webhook_partition(endpoint_id)) % endpoint_id


def webhook_in_flight_pattern(partition: int) -> str:
    """``webhook_in_flight`` with ``%s`` for the endpoint id (the claim script fills it in)."""
    return webhook_in_partition(partition, "endpoint:%s:inflight")


def webhook_rate(endpoint_id: str) -> str:
    """String prefix: requests started in one second (``<key>:<epoch s>``)."""
    return webhook_rate_pattern(webhook_partition(endpoint_id)) % endpoint_id


def webhook_rate_pattern(partition: int) -> str:
    return webhook_in_partition(partition, "endpoint:%s:rate")


def webhook_lane(endpoint_id: str, lane: str) -> str:
    """Sorted set: one shipment's deliveries to one endpoint, scored by sequence; the head is in flight."""
    return webhook_in_partition(webhook_partition(endpoint_id), f"lane:{endpoint_id}:{lane}")


def webhook_delivery(endpoint_id: str, delivery_id: str) -> str:
    """Hash: one delivery (an event for an endpoint) and its outcome."""
    return webhook_delivery_in(webhook_partition(endpoint_id), delivery_id)


def webhook_delivery_in(partition: int, delivery_id: str) -> str:
    """The delivery's hash in a given partition (a lookup by id alone tries each)."""
    return webhook_in_partition(partition, f"delivery:{delivery_id}")


def webhook_attempts(endpoint_id: str, delivery_id: str) -> str:
    """List: one JSON object per attempt of a delivery, oldest first."""
    return webhook_in_partition(webhook_partition(endpoint_id), f"delivery:{delivery_id}:attempts")


def webhook_in_partition(partition: int, name: str) -> str:
    """A key of the delivery queue's ``partition``."""
    return f"{PREFIX}:wh:{{whq{partition}}}:{name}"


# --- HLD over Pusher (hub/pusher): registrations reach listeners, workers share channels ---
SHIPMENT_REGISTRATIONS = (
    f"{PREFIX}:shipments:registrations"  # stream: shipment, provider, provider_ref, change
)
PUSHER_WORKERS = f"{PREFIX}:pusher:workers"  # sorted set: `hub pusher` worker id -> lease expiry (ms)


def active(provider: str) -> str:
    """Hash: shipment id -> provider_ref of the provider's tracked, not yet terminal shipments."""
    return f"{PREFIX}:active:{provider}"


# Live fan-out (hub/live).
def live_token(token_hash: str) -> str:
    """String with a TTL: the merchant id behind a short-lived browser token's SHA-256."""
    return f"{PREFIX}:live-token:{token_hash}"


def pusher_authorized(socket_id: str, channel: str) -> str:
    """String with a TTL: the API key that authorized ``socket_id`` for a private channel (revocation)."""
    return f"{PREFIX}:live:pusher-auth:{socket_id}:{channel}"


def live_sockets(kind: str, name: str) -> str:
    """Sorted set: open live sockets (socket id -> lease expiry, ms) of one client IP, merchant or protocol.

    Every such set shares the hash tag ``{live}``: one script checks or renews several at once.
    """
    return f"{PREFIX}:{{live}}:sockets:{kind}:{name}"


# The merchant console (hub/console).
def console_session(session_hash: str) -> str:
    """Hash with a TTL: a console session (merchant, API key id, CSRF token), by its cookie's SHA-256."""
    return f"{PREFIX}:console:session:{session_hash}"


def console_signin_ticket(ticket_hash: str) -> str:
    """String with a TTL: ``merchant_id key_id`` behind a one-time sign-in link only `hub dev` mints."""
    return f"{PREFIX}:console:signin-ticket:{ticket_hash}"
