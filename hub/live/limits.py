"""Open-socket limits per client IP and per merchant, counted in this process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from hub.errors import HubError


class TooManyConnections(HubError):
    """A client IP or a merchant already holds as many live sockets as allowed."""


class Limits:
    def __init__(self, max_per_ip: int, max_per_merchant: int) -> None:
        self.max_per_ip = max_per_ip
        self.max_per_merchant = max_per_merchant
        self._ips: Counter[str] = Counter()
        self._merchants: Counter[str] = Counter()

    @contextmanager
    def hold(self, ip: str, merchant_id: str | None = None) -> Iterator[None]:
        """One socket's place, released when it closes; ``TooManyConnections`` when full."""
        if self._ips[ip] >= self.max_per_ip:
            raise TooManyConnections(f"too many live connections from {ip} (limit {self.max_per_ip})")
        if merchant_id is not None and self._merchants[merchant_id] >= self.max_per_merchant:
            raise TooManyConnections(
                f"too many live connections for merchant {merchant_id} (limit {self.max_per_merchant})"
            )
        self._ips[ip] += 1
        if merchant_id is not None:
            self._merchants[merchant_id] += 1
        try:
            yield
        finally:
            self._ips[ip] -= 1
            if not self._ips[ip]:
                del self._ips[ip]
            if merchant_id is not None:
                self._merchants[merchant_id] -= 1
                if not self._merchants[merchant_id]:
                    del self._merchants[merchant_id]
