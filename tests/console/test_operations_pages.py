"""The console's Operations page in real Chromium: the merchant's own dead letters with their reasons, its
API keys and stream credentials (each shown once, revocable), and its stream consumers' lag; never another
merchant's, never without the CSRF token, never a 5xx for hostile form values.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub import keys
from tests.conftest import bearer
from tests.console.conftest import TIMEOUT_MS, Hub, csp_violations, new_merchant, screenshots, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="module")
FORM = {"content-type": "application/x-www-form-urlencoded"}
BAD_BODY = b'{"order": {"id": "<script>window.pwned = true</script>"'  # cut short: not JSON


def jar(cookie: str) -> dict[str, str]:
    return {"cookie": f"hub_console={cookie}"}


async def session(context: BrowserContext, page: Page) -> tuple[str, str]:
    [cookie] = [c["value"] for c in await context.cookies() if c["name"] == "hub_console"]
    return cookie, await page.locator("form.signout input[name=csrf]").input_value()


async def post_bad_webhook(http: httpx.AsyncClient, merchant: dict[str, str]) -> None:
    path = httpx.URL(merchant["alopeyk_webhook_url"]).path
    answer = await http.post(path, content=BAD_BODY, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text


async def test_dead_letters_keys_credentials_and_lag_of_the_merchant(
    console_hub: Hub, http: httpx.AsyncClient, page: Page, store: Redis
) -> None:
    merchant = await new_merchant(http, "Ops Shop")
    await post_bad_webhook(http, merchant)
    stream = keys.merchant_events(merchant["id"])
    await store.xgroup_create(stream, "erp-sync", id="0", mkstream=True)
    for n in range(4):
        await store.xadd(stream, {"event": str(n)})
    await store.xreadgroup("erp-sync", "erp-1", {stream: ">"}, count=1)

    await sign_in(page, console_hub, merchant["api_key"])
    await page.click("nav[aria-label=Console] a:has-text('Operations')")
    await expect(page.locator("h1")).to_have_text("Operations")
    letter = page.locator("#deadletters tbody tr")
    await expect(letter).to_have_count(1)
    await expect(letter.locator(".reason")).to_contain_text("JSON")
    await expect(letter.locator(".excerpt")).to_have_text(BAD_BODY.decode())  # text, never markup
    assert await page.evaluate("window.pwned === undefined")
    group = page.locator("#consumer-groups tr[data-group='erp-sync']")
    await expect(group.locator(".lag")).to_have_text("3")
    await expect(group.locator(".pending")).to_have_text("1")
    for n in range(2):  # more events: the lag shows them without a reload (refresh.js)
        await store.xadd(stream, {"event": f"more {n}"})
    await expect(page.locator("#consumer-groups tr[data-group='erp-sync'] .lag")).to_have_text(
        "5", timeout=TIMEOUT_MS
    )
    await screenshots(page, "operations")

    # An API key: shown once, it works on the API; revoked, it is refused.
    await page.fill("#key-name", "warehouse <b>2</b>")
    await page.click("#create-key button[type=submit]")
    new_key = await page.locator("#new-key").inner_text()
    assert new_key.startswith("hk_")
    await expect(page.locator("#api-keys tbody tr")).to_have_count(2)
    await expect(page.locator("#api-keys")).to_contain_text("warehouse <b>2</b>")
    assert (await http.get("/v1/keys", headers=bearer(new_key))).status_code == 200
    await page.reload()  # posts the form again: nothing new is made, nothing shown again
    await expect(page.locator("#note")).to_contain_text("already sent")
    await expect(page.locator("#new-key")).to_have_count(0)
    await expect(page.locator("#api-keys tbody tr")).to_have_count(2)
    await page.click("#api-keys tr:has-text('warehouse') button:has-text('Revoke')")
    await expect(page.locator("#note")).to_contain_text("API key revoked")
    await expect(page.locator("#api-keys tbody tr")).to_have_count(1)
    assert (await http.get("/v1/keys", headers=bearer(new_key))).status_code == 401
    # The last key stays: revoking it is refused with a reason, not a 5xx.
    await page.click("#api-keys button:has-text('Revoke')")
    await expect(page.locator("#key-error")).to_contain_text("last API key")

    # A stream credential: its URL (with the password) shown once; it reads the stream; revoked, it cannot.
    await page.fill("#credential-description", "erp")
    await page.click("#create-credential button[type=submit]")
    redis_url = await page.locator("#new-redis-url").inner_text()
    consumer = Redis.from_url(redis_url, decode_responses=True)
    try:
        assert await consumer.xlen(stream) == 6
        await expect(page.locator("#stream-credentials tbody tr")).to_have_count(1)
        await page.click("#stream-credentials button:has-text('Revoke')")
        await expect(page.locator("#note")).to_contain_text("Stream credential revoked")
        await expect(page.locator("#no-credentials")).to_be_visible()
        with pytest.raises(RedisError):  # its connection closed, a new login refused
            await consumer.xlen(stream)
    finally:
        await consumer.aclose()
    assert await csp_violations(page) == []


async def test_another_merchants_data_and_ids_are_never_reached(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page
) -> None:
    owner, other = await new_merchant(http, "Owner"), await new_merchant(http, "Other")
    await post_bad_webhook(http, owner)
    made = await http.post("/v1/stream-credentials", json={}, headers=bearer(owner["api_key"]))
    assert made.status_code == 201, made.text
    owner_keys = (await http.get("/v1/keys", headers=bearer(owner["api_key"]))).json()["data"]

    await sign_in(page, console_hub, other["api_key"])
    await page.goto(f"{console_hub.url}/console/operations")
    await expect(page.locator("#no-deadletters")).to_be_visible()
    await expect(page.locator("#no-credentials")).to_be_visible()
    cookie, csrf = await session(context, page)
    for path in [
        f"/console/operations/keys/{owner_keys[0]['id']}/revoke",
        f"/console/operations/stream-credentials/{made.json()['user']}/revoke",
        "/console/operations/keys/key_missing/revoke",
        "/console/operations/keys/%ED%A0%80/revoke",
        "/console/operations/stream-credentials/%FF%00/revoke",
        "/console/operations/stream-credentials/" + "u" * 6000 + "/revoke",
    ]:
        answer = await http.post(path, content=f"csrf={csrf}", headers={**FORM, **jar(cookie)})
        assert answer.status_code == 404, (path, answer.status_code)
    assert (await http.get("/v1/keys", headers=bearer(owner["api_key"]))).status_code == 200
    listed = await http.get("/v1/stream-credentials", headers=bearer(owner["api_key"]))
    assert [c["user"] for c in listed.json()["data"]] == [made.json()["user"]]


async def test_csrf_and_hostile_form_values_are_refused_without_a_5xx(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page
) -> None:
    merchant = await new_merchant(http)
    await sign_in(page, console_hub, merchant["api_key"])
    await page.goto(f"{console_hub.url}/console/operations")
    cookie, csrf = await session(context, page)
    for body in [b"name=x", b"csrf=&name=x", b"csrf=" + b"x" * len(csrf) + b"&name=x"]:
        answer = await http.post("/console/operations/keys", content=body, headers={**FORM, **jar(cookie)})
        assert answer.status_code == 403, body
    token = b"csrf=" + csrf.encode()
    keys_path, credentials_path = "/console/operations/keys", "/console/operations/stream-credentials"
    cases: list[tuple[str, bytes, int]] = [
        (keys_path, token + b"&name=" + b"n" * 100_000, 413),
        (keys_path, token + b"&name=%ff", 400),
        (keys_path, token + b"&name=%ed%a0%80", 400),
        (keys_path, token + b"&name=%0a", 400),
        (keys_path, token + b"&name=a&name=b", 400),
        (keys_path, token + b"&name=", 422),
        (keys_path, token + b"&name=%20%20", 422),
        (keys_path, token, 422),
        (keys_path, token + b"&name=" + b"n" * 101, 422),
        (credentials_path, token + b"&description=" + b"d" * 201, 422),
        (credentials_path, token + b"&description=%c0%af", 400),  # overlong UTF-8
    ]
    for path, body, status in cases:
        answer = await http.post(path, content=body, headers={**FORM, **jar(cookie)})
        assert answer.status_code == status, (path, body[:60], answer.status_code, answer.text[:300])
    listed = (await http.get("/v1/keys", headers=bearer(merchant["api_key"]))).json()["data"]
    assert len(listed) == 1  # none of them made a key
    await page.fill("#key-name", " ")
    await page.click("#create-key button[type=submit]")
    await expect(page.locator("#key-error")).to_be_visible(timeout=TIMEOUT_MS)
    assert await csp_violations(page) == []
