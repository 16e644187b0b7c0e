"""The five providers, each one module behind the same small interface.

A provider module exposes:

``NAME``
    the provider's name in events (``source`` is ``/providers/<NAME>``).
``STATUSES``
    its :class:`~hub.statuses.StatusTable` (data, printed in the README).
``KINDS``
    the payload kinds :func:`normalize` accepts (``webhook``, ``tracking``, ``pusher:<event>`` ...).
``parse_body(body: bytes) -> Any``
    wire bytes to a JSON value (ALOD unwraps base64 here); raises ``NormalizationError``.
``normalize(payload, *, kind, tz, ref=None) -> list[Observation]``
    pure: no I/O, no clock. ``ref`` is the shipment id the caller asked the provider
    about, for responses that do not repeat it. Raises ``NormalizationError`` for a
    payload it cannot read, and ``ProviderError`` for an error the provider reported.
"""

from __future__ import annotations

from datetime import tzinfo
from types import ModuleType
from typing import Any

from hub.errors import NormalizationError
from hub.model.observation import Observation
from hub.providers import alclient, all24, alod, alopeyk, hld

PROVIDERS: dict[str, ModuleType] = {module.NAME: module for module in (alopeyk, hld, alclient, alod, all24)}


def get(name: str) -> ModuleType:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise NormalizationError(name, f"unknown provider; expected one of {sorted(PROVIDERS)}") from None


def normalize(
    provider: str, payload: Any, *, kind: str, tz: tzinfo, ref: str | None = None
) -> list[Observation]:
    module = get(provider)
    if kind not in module.KINDS:
        raise NormalizationError(provider, f"unknown payload kind {kind!r}; expected one of {module.KINDS}")
    result: list[Observation] = module.normalize(payload, kind=kind, tz=tz, ref=ref)
    return result
