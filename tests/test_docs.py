"""The README says what the code does: mapping tables, settings and event examples are checked."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from hub import events
from hub.providers import PROVIDERS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_readme_prints_each_providers_status_table_as_the_code_has_it(provider: str) -> None:
    assert PROVIDERS[provider].STATUSES.markdown() in README


def test_readme_documents_every_setting() -> None:
    source = "\n".join(path.read_text() for path in (ROOT / "hub").rglob("settings*.py"))
    names = set(re.findall(r'"(HUB_[A-Z0-9_]+)"', source))
    provider_vars = {name for name in names if name.startswith("HUB_<")}
    docs = README + "".join(path.read_text() for path in (ROOT / "docs").glob("*.md"))  # reference in docs/
    missing = sorted(name for name in names - provider_vars if name not in docs)
    assert missing == []


def test_readme_event_examples_are_valid_events() -> None:
    examples = re.findall(r"Example: `(shipment\.\w+)`.*?```json\n(.*?)```", README, re.S)
    assert {kind for kind, _ in examples} == {
        "shipment.status_changed",
        "shipment.location_updated",
        "shipment.stop_updated",
    }
    for kind, text in examples:
        event = json.loads(text)
        assert event["type"] == kind
        jsonschema.validate(event, events.schema())
