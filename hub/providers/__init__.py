"""The five providers, each one module behind the same typed interface (:class:`Provider`).

A provider module is pure: no I/O, no clock. It turns the provider's bytes into a JSON
value (``parse_body``: ALOD unwraps base64 here) and a payload of one of its ``KINDS``
(``webhook``, ``tracking``, ``pusher:<event>`` ...) into observations (``normalize``).
A module may also declare ``FLOW``, its documented status flow (a :class:`~hub.model.flow.Flow`):
it places observations the provider does not date, and says which terminal codes a final one
confirms (:func:`flow`).
A change the provider gives no time for at all has time :data:`~hub.model.observation.UNDATED`;
the hub dates it on receipt. A provider that refused our credentials raises ``CredentialsRefused``.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, Protocol

from hub.errors import NormalizationError
from hub.model.flow import Flow
from hub.model.observation import Observation
from hub.model.status import StatusTable
from hub.providers import alclient, all24, alod, alopeyk, hld
from hub.providers.facts import ProviderFacts


class Provider(Protocol):
    """What every module in this package is (mypy checks each against it)."""

    @property
    def NAME(self) -> str:  # the provider's name in events: ``source`` is ``/providers/<NAME>``
        ...

    @property
    def KINDS(self) -> tuple[str, ...]:  # the payload kinds ``normalize`` accepts
        ...

    @property
    def FACTS(self) -> ProviderFacts:  # where it lives, its zone, credentials, poll defaults, push or poll
        ...

    @property
    def STATUSES(self) -> StatusTable:  # its codes mapped onto the unified statuses (data, in the docs)
        ...

    def parse_body(self, body: bytes) -> Any:
        """Wire bytes to a JSON value; raises ``NormalizationError``."""

    def normalize(self, payload: Any, *, kind: str, tz: tzinfo, ref: str | None = None) -> list[Observation]:
        """Observations of one payload. ``ref`` is the shipment id the caller asked the provider about,
        for answers that do not repeat it. Raises ``NormalizationError`` for a payload it cannot read,
        ``ProviderError`` for an error the provider reported."""


MODULES: tuple[Provider, ...] = (alopeyk, hld, alclient, alod, all24)
PROVIDERS: dict[str, Provider] = {module.NAME: module for module in MODULES}


def get(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise NormalizationError(name, f"unknown provider; expected one of {sorted(PROVIDERS)}") from None


def display_name(name: str) -> str:
    """The provider's real name for people (the tracking page); the name itself when unknown."""
    module = PROVIDERS.get(name)
    return module.FACTS.display_name if module else name


def flow(name: str) -> Flow | None:
    """The provider's documented status flow, when its module declares one."""
    declared: Flow | None = getattr(get(name), "FLOW", None)
    return declared


def normalize(
    provider: str, payload: Any, *, kind: str, tz: tzinfo, ref: str | None = None
) -> list[Observation]:
    module = get(provider)
    if kind not in module.KINDS:
        raise NormalizationError(provider, f"unknown payload kind {kind!r}; expected one of {module.KINDS}")
    return module.normalize(payload, kind=kind, tz=tz, ref=ref)
