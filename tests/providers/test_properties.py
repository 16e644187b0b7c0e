"""Any bytes, and any damage to a real payload, through the real ingest path of every provider.

``parse_body`` then ``normalize`` (what :meth:`hub.ingest.Ingestor.normalize` runs) gives
observations that can be stored, or the typed refusal (``NormalizationError``,
``ProviderError``): never any other exception, which would kill a normalizer (issue 12).
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import providers
from hub.errors import NormalizationError, ProviderError
from hub.model import times
from hub.model.observation import Observation
from hub.settings import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SETTINGS = Settings()
REFS = (None, "tok-1", "HS0001")
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HOSTILE_TEXT = st.text(st.characters(categories=["Cs", "L", "N", "P", "Zs", "Cc"]), max_size=10)
HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),  # within the digit limit, absurd as times
    st.floats(),
    HOSTILE_TEXT,
    st.sampled_from(["", "2017-09-12T18:45:39+04:30", "9999-99-99", "1e999", "0", "-1", "NaN", "\ud800"]),
    st.builds(lambda depth: json.loads("[" * depth + "]" * depth), st.integers(1, 200)),
    st.lists(HOSTILE_TEXT, max_size=3),
    st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT, max_size=3),
)


def fixtures(provider: str) -> list[Any]:
    return [json.loads(path.read_text()) for path in sorted((FIXTURES / provider).glob("*.json"))]


def ingest_path(provider: str, body: bytes, kind: str, ref: str | None) -> list[Observation]:
    """What the normalizer does with an inbox entry (hub/ingest.py ``Ingestor.normalize``)."""
    module = providers.get(provider)
    parsed = module.parse_body(body)
    tz = times.zone(SETTINGS.provider(provider).timezone)
    return providers.normalize(provider, parsed, kind=kind, tz=tz, ref=ref)


def events_or_typed_refusal(provider: str, body: bytes, kind: str, ref: str | None) -> None:
    try:
        observations = ingest_path(provider, body, kind, ref)
    except (NormalizationError, ProviderError):
        return
    for observation in observations:  # what the store does next: encode it (a lone surrogate died here)
        json.dumps(dataclasses.asdict(observation), default=str, ensure_ascii=False).encode("utf-8")


@st.composite
def damaged(draw: st.DrawFn, payload: Any) -> Any:
    """``payload`` with one value somewhere in it (a leaf or a whole subtree) replaced by a hostile one."""
    if isinstance(payload, dict) and payload and draw(st.integers(0, 3)):
        key = draw(st.sampled_from(sorted(payload)))
        return {**payload, key: draw(damaged(payload[key]))}
    if isinstance(payload, list) and payload and draw(st.integers(0, 3)):
        index = draw(st.integers(0, len(payload) - 1))
        return [*payload[:index], draw(damaged(payload[index])), *payload[index + 1 :]]
    return draw(HOSTILE)


def wire(provider: str, payload: Any, as_base64: bool) -> bytes:
    body = json.dumps(payload).encode()  # ensure_ascii: lone surrogates go out as \udXXX escapes
    return base64.b64encode(body) if provider == "alod" and as_base64 else body


@pytest.mark.parametrize("provider", sorted(providers.PROVIDERS))
@EXAMPLES
@given(data=st.data())
def test_a_damaged_real_payload_gives_events_or_the_typed_refusal(provider: str, data: st.DataObject) -> None:
    payload = data.draw(damaged(data.draw(st.sampled_from(fixtures(provider)))))
    kind = data.draw(st.sampled_from(providers.get(provider).KINDS))
    body = wire(provider, payload, data.draw(st.booleans()))
    events_or_typed_refusal(provider, body, kind, data.draw(st.sampled_from(REFS)))


@pytest.mark.parametrize("provider", sorted(providers.PROVIDERS))
@EXAMPLES
@given(body=st.binary(max_size=512), data=st.data())
def test_any_bytes_give_events_or_the_typed_refusal(provider: str, body: bytes, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(providers.get(provider).KINDS))
    events_or_typed_refusal(provider, body, kind, data.draw(st.sampled_from(REFS)))


@pytest.mark.parametrize(
    "change",
    [
        {"eta_minimal": {"duration": 10**40, "updated_at": "2017-09-12T18:45:39+04:30"}},  # was OverflowError
        {"addresses": [{"priority": "first", "arrived_at": "2017-09-12T18:50:00+04:30"}]},  # was ValueError
        {"addresses": [{"priority": [[1]], "arrived_at": "2017-09-12T18:50:00+04:30"}]},  # was TypeError
    ],
)
def test_what_the_properties_found_in_alopeyk_orders(change: dict[str, Any]) -> None:
    body = fixtures("alopeyk")[0]
    order = body.get("object") or body["order"]
    order.update(change)
    observations = ingest_path("alopeyk", json.dumps(body).encode(), "webhook", None)
    assert observations  # the order still becomes events: the odd field is ignored
