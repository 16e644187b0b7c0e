"""The /v1/stream-credentials routes: listing, 404 for another merchant's, precise 4xx, the URL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from hub import keys
from hub.settings import Settings
from hub.streams import credentials
from tests.conftest import bearer, create_merchant
from tests.stream_access import (
    CREDENTIALS,
    client_of,
    new_credential,
    no_stream_users_left,  # noqa: F401
)

pytestmark = pytest.mark.usefixtures("no_stream_users_left")  # FLUSHALL keeps ACL users


async def test_credentials_are_listed_without_passwords_and_other_merchants_get_404(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    other = await create_merchant(http, "Shop Two")
    first = await new_credential(http, merchant, description="billing")
    theirs = await new_credential(http, other)
    assert first["password"] in first["redis_url"] and first["user"] in first["redis_url"]
    listed = await http.get(CREDENTIALS, headers=bearer(merchant["api_key"]))
    assert listed.status_code == 200
    assert listed.json()["data"] == [
        {"user": first["user"], "created_ms": first["created_ms"], "description": "billing"}
    ]
    assert first["password"] not in listed.text
    stored = json.dumps(await redis.hgetall(keys.merchant_stream_users(merchant["id"])))
    assert first["password"] not in stored  # the hub keeps no password
    # Another merchant's credential, revoked with this merchant's key: 404, and it still works.
    attempt = await http.delete(f"{CREDENTIALS}/{theirs['user']}", headers=bearer(merchant["api_key"]))
    assert attempt.status_code == 404 and attempt.json()["error"]["code"] == "not_found"
    client = client_of(theirs)
    try:
        assert await client.ping()
        with pytest.raises(NoPermissionError):  # and it never reads this merchant's stream
            await client.xrange(first["stream"])
    finally:
        await client.aclose()
    assert (await http.get(CREDENTIALS)).status_code == 401
    assert (await http.post(CREDENTIALS, headers=bearer("hk_wrong"))).status_code == 401


@pytest.mark.parametrize(
    ("content", "status", "code", "field"),
    [
        (b"{not json", 400, "invalid_json", None),
        (b"\xff\xfe", 400, "invalid_utf8", None),
        (b"[]", 422, "wrong_type", None),
        (b'"text"', 422, "wrong_type", None),
        (b'{"description": 5}', 422, "unprocessable", "description"),
        (b'{"description": ["a"]}', 422, "unprocessable", "description"),
        (b'{"description": {"a": 1}}', 422, "unprocessable", "description"),
        (b'{"description": "' + b"x" * 201 + b'"}', 422, "unprocessable", "description"),
        (b'{"description": "ok", "acl": "+@all"}', 422, "unprocessable", "acl"),
        (b'{"description": ' + b"[" * 5000 + b"]" * 5000 + b"}", 422, "too_deep", None),
        (b'{"description": "\\ud800"}', 400, "lone_surrogate", None),
        (b'{"description": 1' + b"0" * 5000 + b"}", 422, "number_too_long", None),
        (b'{"description": "' + b"x" * 200 + b'"}', 201, None, None),
        (b"{}", 201, None, None),
    ],
)
async def test_bad_bodies_get_a_precise_4xx(
    http: httpx.AsyncClient,
    merchant: dict[str, Any],
    content: bytes,
    status: int,
    code: str | None,
    field: str | None,
) -> None:
    response = await http.post(
        CREDENTIALS,
        content=content,
        headers={**bearer(merchant["api_key"]), "content-type": "application/json"},
    )
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.json()["error"]["code"] == code
        assert response.json()["error"].get("field") == field
    listed = (await http.get(CREDENTIALS, headers=bearer(merchant["api_key"]))).json()["data"]
    assert len(listed) == (1 if status == 201 else 0)


async def test_hostile_user_names_are_404_and_a_merchant_holds_at_most_twenty(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    auth = bearer(merchant["api_key"])
    for user in ("%ED%A0%80", "x" * 5000, "stream.*", "default", "%00", "..%2F..%2Fadmin"):
        response = await http.delete(f"{CREDENTIALS}/{user}", headers=auth)
        assert response.status_code == 404, (user, response.text)
    made = [await new_credential(http, merchant) for _ in range(20)]
    refused = await http.post(CREDENTIALS, headers=auth)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "too_many_credentials"
    assert (await http.delete(f"{CREDENTIALS}/{made[0]['user']}", headers=auth)).status_code == 204
    assert (await http.post(CREDENTIALS, headers=auth)).status_code == 201


async def test_concurrent_creates_never_pass_twenty(
    http: httpx.AsyncClient, redis: Redis, merchant: dict[str, Any]
) -> None:
    """Eight requests at once, three places left: three credentials, five refusals, no ACL user beyond."""
    auth = bearer(merchant["api_key"])
    for _ in range(credentials.MAX_PER_MERCHANT - 3):
        await new_credential(http, merchant)
    answers = await asyncio.gather(*(http.post(CREDENTIALS, headers=auth) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [201] * 3 + [409] * 5
    listed = (await http.get(CREDENTIALS, headers=auth)).json()["data"]
    assert len(listed) == credentials.MAX_PER_MERCHANT
    users = {
        u for u in await redis.acl_users() if u.startswith(f"{credentials.USER_PREFIX}{merchant['id']}.")
    }
    assert users == {c["user"] for c in listed}


async def test_the_redis_url_names_the_configured_public_address(redis: Redis, settings: Settings) -> None:
    default = credentials.public_url(settings, "u", "p")
    assert default.startswith("redis://u:p@127.0.0.1:")
    public = settings.replace(merchant_stream_public_url="rediss://streams.example.com:6380")
    assert credentials.public_url(public, "u", "p") == "rediss://u:p@streams.example.com:6380"
    # The hub on database 3: the URL selects it, and the user may (its key pattern is the same one key).
    other_db = settings.replace(redis_url="redis://10.0.0.5:6379/3")
    assert credentials.public_url(other_db, "u", "p") == "redis://u:p@10.0.0.5:6379/3"
    assert "+select" in credentials.acl_rules("mer_1", "0" * 64, False, credentials.database(other_db))
    assert "+select" not in credentials.acl_rules("mer_1", "0" * 64, False, credentials.database(settings))


async def test_every_route_is_in_openapi(http: httpx.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert set(paths[CREDENTIALS]) == {"get", "post"}
    assert set(paths[f"{CREDENTIALS}/{{user}}"]) == {"delete"}


async def test_a_hub_whose_redis_user_may_not_manage_acls_says_so(
    redis: Redis, redis_url: str, settings: Settings
) -> None:
    await redis.execute_command(
        "ACL", "SETUSER", "hub-limited", "on", ">limited", "~*", "&*", "+@all", "-@admin"
    )
    limited = Redis.from_url(
        redis_url.replace("redis://", "redis://hub-limited:limited@"), decode_responses=True
    )
    try:
        with pytest.raises(credentials.AclNotPermitted, match=r"\+acl\|setuser"):
            await credentials.create(limited, settings, "mer_limited")
    finally:
        await limited.aclose()
        await redis.execute_command("ACL", "DELUSER", "hub-limited")
