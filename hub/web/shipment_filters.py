"""What a shipments listing is asked for, read once for the API and the console alike.

``GET /v1/shipments`` and the console's shipments page take the same filters (status, provider,
an exact ``merchant_ref`` or ``provider_ref``); both refuse a bad one with the same 422.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.datastructures import QueryParams

from hub.model.status import Status
from hub.providers import PROVIDERS
from hub.registry import shipments
from hub.web.errors import ApiError

MAX_REF_CHARS = 256  # a merchant_ref or provider_ref looked up


@dataclass(frozen=True)
class ShipmentFilters:
    status: str | None = None
    provider: str | None = None
    refs: dict[str, str] = field(default_factory=dict)  # exact values of shipments.LOOKUPS fields


def read(params: QueryParams) -> ShipmentFilters:
    status, provider = params.get("status"), params.get("provider")
    check_status(status)
    check_provider(provider)
    return ShipmentFilters(status, provider, refs(params))


def check_status(status: str | None) -> None:
    if status is not None and status not in Status.__members__.values():
        raise ApiError(422, f"status must be one of {[s.value for s in Status]}", field="status")


def check_provider(provider: str | None) -> None:
    if provider is not None and provider not in PROVIDERS:
        raise ApiError(422, f"provider must be one of {sorted(PROVIDERS)}", field="provider")


def refs(params: QueryParams) -> dict[str, str]:
    """The exact references asked for (``merchant_ref``, ``provider_ref``), each read from its index."""
    found = {}
    for name in shipments.LOOKUPS:
        values = params.getlist(name)
        if not values:
            continue
        if len(values) > 1:
            raise ApiError(422, f"{name} may be given once", field=name)
        check_ref(name, values[0])
        found[name] = values[0]
    return found


def check_ref(name: str, value: str) -> None:
    if not value or len(value) > MAX_REF_CHARS:
        raise ApiError(422, f"{name} must be 1 to {MAX_REF_CHARS} characters", field=name)
