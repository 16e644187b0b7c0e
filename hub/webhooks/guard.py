"""SSRF guard: webhooks go to the public internet, not into our own network.

The URL's form is checked when an endpoint is saved; its host is checked at every
connection by the resolver the delivery client uses, because DNS can change after the
check at creation (and checking separately from connecting would leave a rebinding gap).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp import ThreadedResolver
from aiohttp.abc import AbstractResolver, ResolveResult

from hub.errors import HubError
from hub.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeUrl(HubError):
    """The URL may not receive webhooks; the message says why."""


def check_url(url: str, settings: Settings) -> str:
    """The URL if it is absolute https (or http when allowed), with a host and no credentials."""
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.webhook.allow_http else ("https",)
    if parts.scheme not in allowed:
        hint = "" if settings.webhook.allow_http else " (http needs HUB_WEBHOOK_ALLOW_HTTP=1)"
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
        return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.webhook.allow_networks]
    except ValueError as exc:
        raise UnsafeUrl(f"HUB_WEBHOOK_ALLOW_NETWORKS: {exc}") from None


def is_internal(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def check_address(host: str, address: str, allowed: list[Network]) -> None:
    """Refuse an internal ``address`` of ``host`` unless an allowlist entry permits it."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if is_internal(ip) and not any(ip in network for network in allowed):
        raise UnsafeUrl(f"{host} resolves to internal address {ip}; refused")


def check_literal(url: str, allowed: list[Network]) -> None:
    """A URL naming an IP address directly is never resolved, so its address is checked here."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return  # a name: checked by the resolver when connecting
    check_address(host, host, allowed)


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses internal addresses, so the checked address is the one connected to
    (no gap for DNS rebinding between a check and the connection)."""

    def __init__(self, allowed: list[Network]) -> None:
        self.allowed = allowed
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            check_address(host, result["host"], self.allowed)
        return results

    async def close(self) -> None:
        await self._inner.close()
