"""SSRF: an internal destination is refused when an endpoint is saved, in every form it can be
written in, and a delivery the guard refuses fails at once instead of retrying for a day and a half."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from redis.asyncio import Redis

from hub.api.app import create_app
from hub.settings import Settings
from hub.webhooks import guard
from tests.conftest import bearer, create_merchant
from tests.servers import ServerThread
from tests.webhooks.conftest import Hub, Receiver, delivery_status, eventually

# Loopback, private and metadata destinations in every form the guard must see through.
INTERNAL_HOSTS = [
    "127.0.0.1",
    "10.1.2.3",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # shared address space (CGNAT)
    "0.0.0.0",
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:7f00:1]",  # IPv4-mapped, written in hex
    "[64:ff9b::7f00:1]",  # NAT64 (well-known prefix)
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of the metadata address
    "[64:ff9b:1::7f00:1]",  # NAT64 (local-use prefix)
    "[2002:7f00:1::]",  # 6to4
    "[2002:a00:1::1]",  # 6to4 of 10.0.0.1
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1
    "[ff02::1]",  # multicast
    "224.0.0.1",
    "localhost",  # a name that resolves to loopback (/etc/hosts)
    "LOCALHOST",  # the same, in capitals
    "0x7f000001",  # 127.0.0.1 in hex (the resolver reads it as an address)
]
PUBLIC_HOSTS = ["93.184.215.14", "[2606:2800:21f:cb07:6820:80da:af6b:1746]", "[64:ff9b::5db8:d70e]"]
# Wide enough for every form above (Teredo and local-use NAT64 are special-purpose themselves).
ALLOW_ALL_INTERNAL = ("0.0.0.0/0", "::/0")


@pytest.fixture
def strict(settings: Settings) -> Settings:
    """http allowed (the test receivers are plain http) but no internal network allowlisted."""
    return settings.replace(webhook_allow_http=True, webhook_allow_networks=())


@pytest.fixture
def serve() -> Iterator[Callable[[Settings], str]]:
    started: list[ServerThread] = []

    def start(settings: Settings) -> str:
        server = ServerThread(lambda url: create_app(settings.replace(public_url=url))).__enter__()
        started.append(server)
        return server.url

    yield start
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
async def api(serve: Callable[[Settings], str], strict: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=serve(strict), timeout=10) as client:
        yield client


def _refused_as_unsafe(response: httpx.Response) -> bool:
    error = response.json().get("error", {})
    return (
        response.status_code == 422
        and error.get("code") == "unsafe_url"
        and error.get("field") == "url"
        and "internal address" in error.get("message", "")
    )


@pytest.mark.parametrize("host", INTERNAL_HOSTS)
async def test_an_internal_destination_is_refused_at_creation_and_at_update(
    api: httpx.AsyncClient, host: str
) -> None:
    key = (await create_merchant(api, "Shop"))["api_key"]
    created = await api.post("/v1/webhooks/endpoints", json={"url": f"http://{host}/h"}, headers=bearer(key))
    assert _refused_as_unsafe(created), created.text
    listed = (await api.get("/v1/webhooks/endpoints", headers=bearer(key))).json()["data"]
    assert listed == []  # nothing was stored

    public = await api.post(
        "/v1/webhooks/endpoints", json={"url": "https://93.184.215.14/h"}, headers=bearer(key)
    )
    assert public.status_code == 201, public.text
    updated = await api.patch(
        f"/v1/webhooks/endpoints/{public.json()['id']}",
        json={"url": f"https://{host}:8443/h"},
        headers=bearer(key),
    )
    assert _refused_as_unsafe(updated), updated.text
    kept = await api.get(f"/v1/webhooks/endpoints/{public.json()['id']}", headers=bearer(key))
    assert kept.json()["url"] == "https://93.184.215.14/h"


@pytest.mark.parametrize("host", [*PUBLIC_HOSTS, "shop.example"])  # shop.example does not resolve
async def test_public_and_unresolvable_destinations_are_accepted(api: httpx.AsyncClient, host: str) -> None:
    key = (await create_merchant(api, "Shop"))["api_key"]
    created = await api.post("/v1/webhooks/endpoints", json={"url": f"https://{host}/h"}, headers=bearer(key))
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]"])
async def test_the_allowlist_lets_loopback_through_in_any_form(
    serve: Callable[[Settings], str], strict: Settings, host: str
) -> None:
    loopback = strict.replace(webhook_allow_networks=("127.0.0.0/8",))
    async with httpx.AsyncClient(base_url=serve(loopback), timeout=10) as api:
        key = (await create_merchant(api, "Shop"))["api_key"]
        created = await api.post(
            "/v1/webhooks/endpoints", json={"url": f"http://{host}/h"}, headers=bearer(key)
        )
        assert created.status_code == 201, created.text
        outside = await api.post(
            "/v1/webhooks/endpoints", json={"url": "http://10.0.0.1/h"}, headers=bearer(key)
        )
        assert _refused_as_unsafe(outside), outside.text  # only what the allowlist names


async def test_an_allowlist_covering_every_range_lets_every_form_through(
    serve: Callable[[Settings], str], strict: Settings
) -> None:
    everything = strict.replace(webhook_allow_networks=ALLOW_ALL_INTERNAL)
    async with httpx.AsyncClient(base_url=serve(everything), timeout=10) as api:
        key = (await create_merchant(api, "Shop"))["api_key"]
        for host in INTERNAL_HOSTS:
            created = await api.post(
                "/v1/webhooks/endpoints", json={"url": f"http://{host}/h"}, headers=bearer(key)
            )
            assert created.status_code == 201, (host, created.text)


@pytest.mark.parametrize(
    "url",
    [
        "http://" + "a" * 64 + ".example/h",
        "http://[::1/h",
        "http://2130706433/h",  # 127.0.0.1 as one number: the delivery client would refuse it
        "http://127.1/h",
        "http://exa\x00mple.com/h",
        "http://exa mple.com/h",
        "http://exa%00mple.com/h",
        "http://" + "a." * 127 + "com/h",  # over 253 characters
    ],
)
async def test_a_malformed_host_is_a_precise_422(api: httpx.AsyncClient, url: str) -> None:
    key = (await create_merchant(api, "Shop"))["api_key"]
    created = await api.post(
        "/v1/webhooks/endpoints",
        content=json.dumps({"url": url}).encode(),  # a lone surrogate travels escaped, as \udcff
        headers={**bearer(key), "content-type": "application/json"},
    )
    assert created.status_code == 422 and created.json()["error"]["field"] == "url", created.text


async def test_a_url_with_a_lone_surrogate_is_refused_by_the_body_reader(api: httpx.AsyncClient) -> None:
    key = (await create_merchant(api, "Shop"))["api_key"]
    created = await api.post(
        "/v1/webhooks/endpoints",
        content=json.dumps({"url": "http://exa\udcffmple.com/h"}).encode(),  # travels escaped, as \udcff
        headers={**bearer(key), "content-type": "application/json"},
    )
    assert created.status_code == 400 and created.json()["error"]["code"] == "lone_surrogate", created.text


@pytest.mark.parametrize(
    ("address", "leads_to"),
    [
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("64:ff9b::7f00:1", "127.0.0.1"),
        ("64:ff9b:1::a9fe:a9fe", "169.254.169.254"),
        ("2002:c0a8:101::1", "192.168.1.1"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"),
        ("2001:db8::1", None),
        ("10.0.0.1", None),
    ],
)
def test_the_ipv4_address_a_translated_form_leads_to(address: str, leads_to: str | None) -> None:
    inner = guard.embedded_ipv4(ipaddress.ip_address(address))
    assert (str(inner) if inner else None) == leads_to


async def test_a_delivery_the_guard_refuses_fails_at_once_with_its_reason(
    redis: Redis, strict: Settings, receivers: Callable[..., tuple[Receiver, str]]
) -> None:
    """The endpoint was saved while allowed (or its name resolved elsewhere then); at delivery the
    address is refused, and the delivery fails for good rather than waiting for its next retry."""
    receiver, url = receivers()
    hub = Hub(redis, strict.replace(webhook_retry_schedule_s=(3600.0,) * 7, webhook_retry_jitter=0))
    await hub.start()
    try:
        endpoint = await hub.endpoint(receiver, url.replace("127.0.0.1", "localhost"))
        await hub.emit("shp_unsafe")

        async def failed() -> bool:
            return await delivery_status(hub, endpoint.id) == ["failed"]

        await eventually(failed, 20, "the refused delivery marked failed")
        (delivery,), _ = await hub.engine.deliveries.page(endpoint.id, limit=1)
        assert delivery.attempts == 1 and delivery.to_json()["next_attempt_ms"] is None  # no retry due
        assert (delivery.last_error or "").startswith("refused: localhost resolves to 127.0.0.1")
        (attempt,) = await hub.engine.deliveries.attempts(delivery)
        assert attempt["error"] == delivery.last_error
        assert receiver.requests == []
    finally:
        await hub.close()
