"""SSRF guard: webhooks go to the public internet, not into our own network.

The URL's form is checked when an endpoint is saved; its host is resolved and checked
again right before every delivery, because DNS can change after the check at creation.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from hub.errors import HubError
from hub.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeUrl(HubError):
    """The URL may not receive webhooks; the message says why."""


def check_url(url: str, settings: Settings) -> str:
    """The URL if it is absolute https (or http when allowed), with a host and no credentials."""
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.webhook_allow_http else ("https",)
    if parts.scheme not in allowed:
        hint = "" if settings.webhook_allow_http else " (http needs HUB_WEBHOOK_ALLOW_HTTP=1)"
        raise UnsafeUrl(f"url must use {' or '.join(allowed)}{hint}")
    if not parts.hostname:
        raise UnsafeUrl("url has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("url must not carry credentials")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise UnsafeUrl("url has an invalid port") from None
    return url


def allowlist(settings: Settings) -> list[Network]:
    try:
        return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.webhook_allow_networks]
    except ValueError as exc:
        raise UnsafeUrl(f"HUB_WEBHOOK_ALLOW_NETWORKS: {exc}") from None


def is_internal(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


async def resolve_public(url: str, allowed: list[Network]) -> list[IPAddress]:
    """Every address the host resolves to, refusing internal ones that no allowlist entry permits."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeUrl(f"cannot resolve {host}: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if is_internal(address) and not any(address in network for network in allowed):
            raise UnsafeUrl(f"{host} resolves to internal address {address}; refused")
    return addresses
