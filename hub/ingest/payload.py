"""What goes into the ingest path and what comes out of it: a payload, its events, or its refusal."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.errors import NormalizationError, UnreadableBody
from hub.model.observation import Channel
from hub.streams.append import Appended


class Rejected(NormalizationError):
    """The payload was kept in the dead-letter stream instead of becoming events."""

    def __init__(self, error: NormalizationError, deadletter_id: str | None) -> None:
        super().__init__(error.provider, error.reason)
        self.error = error
        self.deadletter_id = deadletter_id

    @property
    def unreadable(self) -> bool:
        """The bytes were not the provider's wire format at all (a 400 rather than a 422)."""
        return isinstance(self.error, UnreadableBody)


@dataclass(frozen=True)
class Payload:
    """A provider's payload as received, with what is needed to turn it into events."""

    provider: str
    kind: str
    body: bytes
    channel: Channel
    merchant_id: str | None = None
    ref: str | None = None
    register: bool = False


@dataclass(frozen=True)
class Ingested:
    appended: list[Appended] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)

    @property
    def published(self) -> list[Appended]:
        return [a for a in self.appended if a.published]
