"""The docs say what the code does: mapping tables, settings and event examples are checked."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from hub import settings
from hub.model.event import schema
from hub.providers import PROVIDERS
from tests.conftest import ROOT

EVENTS_DOC = (ROOT / "docs" / "events.md").read_text()
CONFIGURATION_DOC = (ROOT / "docs" / "configuration.md").read_text()


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_docs_print_each_providers_status_table_as_the_code_has_it(provider: str) -> None:
    assert PROVIDERS[provider].STATUSES.markdown() in EVENTS_DOC


def test_docs_document_every_setting() -> None:
    assert [name for name in settings.variables() if f"`{name}`" not in CONFIGURATION_DOC] == []


def test_docs_event_examples_are_valid_events() -> None:
    examples = re.findall(r"Example: `(shipment\.\w+)`.*?```json\n(.*?)```", EVENTS_DOC, re.S)
    assert {kind for kind, _ in examples} == {
        "shipment.status_changed",
        "shipment.location_updated",
        "shipment.stop_updated",
    }
    for kind, text in examples:
        event = json.loads(text)
        assert event["type"] == kind
        jsonschema.validate(event, schema())


@pytest.mark.parametrize(
    "page", ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
)
def test_every_relative_link_points_at_a_file_that_exists(page: str) -> None:
    path = ROOT / page
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text())
    missing = [link for link in links if "://" not in link and not (path.parent / link).exists()]
    assert missing == []
