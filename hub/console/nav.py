"""The console's navigation: one entry per section, in the order the header shows them.

A section's page module registers its routes in :mod:`hub.console.routes`; its entry here
names the path the header links to and the ``section`` its templates pass to mark it current.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    section: str  # templates set ``section`` to this to mark the entry current
    label: str
    path: str


NAV: list[Entry] = [
    Entry("fleet", "Fleet map", "/console/"),
    Entry("shipments", "Shipments", "/console/shipments"),
    Entry("webhooks", "Webhooks", "/console/webhooks"),  # pages: hub/console/webhooks*.py (feat/console-ops)
    Entry("operations", "Operations", "/console/operations"),  # pages: hub/console/operations*.py (same)
]
