"""What request handlers share in one process, built once by the app's lifespan, typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from starlette.requests import HTTPConnection

from hub.infra.lru import LRU
from hub.registry.gate import Gate
from hub.settings import Settings

if TYPE_CHECKING:  # built above this layer; handlers only use them
    from hub.ingest.inbox import Inbox
    from hub.ingest.pipeline import Ingestor
    from hub.live.service import LiveService


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: Redis
    ingestor: Ingestor
    inbox: Inbox
    receiver_secrets: LRU[str, Any]  # receiver secret digest -> merchant, kept briefly
    live: LiveService  # live fan-out: one stream reader per process
    gate: Gate  # revocations and disabled merchants, seen within a second


def services(connection: HTTPConnection) -> Services:
    """The services of the app serving this request or WebSocket."""
    found: Services = connection.app.state.services
    return found
