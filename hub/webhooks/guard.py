"""SSRF guard: webhooks go to the public internet, not into our own network.

An endpoint's URL is checked when it is saved (its form, and its host: an address written
literally, or every address its name resolves to now), and again at every connection by the
resolver the delivery client uses, because DNS can change after the check at saving (and
checking separately from connecting would leave a rebinding gap).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from urllib.parse import urlsplit

from aiohttp import ThreadedResolver
from aiohttp.abc import AbstractResolver, ResolveResult

from hub.errors import HubError
from hub.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# IPv6 forms that only carry an IPv4 address (they are judged by it alone: Python counts the
# NAT64 prefix as reserved, yet on an IPv6-only network with DNS64 every public host has one).
_CARRIERS = tuple(ipaddress.IPv6Network(n) for n in ("::ffff:0:0/96", "64:ff9b::/96", "2002::/16"))
_NAT64 = tuple(ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48"))


_DNS_NAME = re.compile(r"[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*\.?", re.IGNORECASE)


class UnsafeUrl(HubError):
    """The URL may not receive webhooks; the message says why."""


class InternalAddress(UnsafeUrl):
    """The URL's host is, or resolves to, an address inside a special-purpose range."""


def check_url(url: str, settings: Settings) -> str:
    """The URL if it is absolute https (or http when allowed), with a host and no credentials."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise UnsafeUrl(f"url is malformed: {exc}") from None
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
    if parts.hostname.replace(".", "").isdigit() and not _is_dotted_quad(parts.hostname):
        # 2130706433 or 127.1: the resolver reads them as addresses, the delivery client refuses them
        raise UnsafeUrl(f"url host {parts.hostname} is a legacy numeric address; write it as a.b.c.d")
    if not _is_host(parts.hostname):
        raise UnsafeUrl("url host is not a valid host name")
    return url


def _is_host(host: str) -> bool:
    """An IP address, or a DNS name of letters, digits, ``-`` and ``_`` labels (IDNA allowed)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return len(name) <= 253 and _DNS_NAME.fullmatch(name) is not None


def _is_dotted_quad(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def allowlist(settings: Settings) -> list[Network]:
    try:
        return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.webhook.allow_networks]
    except ValueError as exc:
        raise UnsafeUrl(f"HUB_WEBHOOK_ALLOW_NETWORKS: {exc}") from None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64, 6to4 or Teredo address leads to, if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]  # (server, client): packets go to the client
    if any(address in prefix for prefix in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)  # RFC 6052, /96 layout
    return None


def is_special(address: IPAddress) -> bool:
    """True for every special-purpose range: private, loopback, link-local, multicast, reserved,
    unspecified, site-local, shared (CGNAT) and anything else not globally reachable."""
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or not address.is_global
    )


def judged(address: IPAddress) -> list[IPAddress]:
    """The addresses whose ranges decide: a carrier form by what it carries, Teredo and local-use
    NAT64 by both (their own ranges are special-purpose too), anything else by itself."""
    inner = embedded_ipv4(address)
    if inner is None:
        return [address]
    if any(address in carrier for carrier in _CARRIERS):
        return [inner]
    return [address, inner]


def is_internal(address: IPAddress) -> bool:
    return any(is_special(a) for a in judged(address))


def check_address(host: str, address: str, allowed: list[Network]) -> None:
    """Refuse an internal ``address`` of ``host`` unless the allowlist covers it (as written, or
    every special-purpose address it leads to)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if any(ip in network for network in allowed):
        return
    for target in judged(ip):
        if is_special(target) and not any(target in network for network in allowed):
            leads = "" if target == ip else f" (it leads to {target})"
            where = "is an" if host == address else f"resolves to {ip}, an"
            raise InternalAddress(
                f"{host} {where} internal address{leads}; refused (HUB_WEBHOOK_ALLOW_NETWORKS may allow it)"
            )


def check_literal(url: str, allowed: list[Network]) -> None:
    """A URL naming an IP address directly is never resolved, so its address is checked here."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return  # a name: checked by the resolver when connecting
    check_address(host, host, allowed)


async def check_destination(url: str, settings: Settings, allowed: list[Network]) -> str:
    """The URL if its form is acceptable and its host is not internal now: an address written
    literally, or any address its name resolves to within ``webhook_connect_timeout_s``.

    A name that does not resolve (yet) is accepted: there is nothing to refuse, and every
    delivery resolves it again through :class:`GuardedResolver`.
    """
    check_url(url, settings)
    check_literal(url, allowed)
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
        return url
    except ValueError:
        pass
    resolver = GuardedResolver(allowed)
    try:
        await asyncio.wait_for(
            resolver.resolve(host, parts.port or 0, socket.AF_UNSPEC), settings.webhook.connect_timeout_s
        )
    except (OSError, TimeoutError, UnicodeError):
        pass  # unresolvable now: delivery resolves again, and refuses then if it must
    finally:
        await resolver.close()
    return url


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
