"""Signing in to the console with an API key, and every way a session must end or be refused."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect
from redis.asyncio import Redis
from starlette.routing import Mount

from hub import keys
from hub.api.app import create_app
from hub.console import sessions
from hub.registry.api_keys import digest
from hub.settings import Settings
from tests.conftest import admin_headers, bearer
from tests.console.conftest import (
    TIMEOUT_MS,
    Hub,
    csp_violations,
    new_merchant,
    screenshots,
    sign_in,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
FORM = {"content-type": "application/x-www-form-urlencoded"}


def jar(cookies: dict[str, str]) -> dict[str, str]:
    """A Cookie header (httpx's per-request cookies are deprecated)."""
    return {"cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())} if cookies else {}


async def session_cookie(context: BrowserContext) -> str:
    [cookie] = [c for c in await context.cookies() if c["name"] == "hub_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    return cookie["value"]


async def test_sign_in_shows_the_console_and_keeps_no_key_in_the_browser(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page
) -> None:
    merchant = await new_merchant(http, "Tehran Flowers")
    await page.goto(
        f"{console_hub.url}/console/shipments?status=pending"
    )  # not signed in: to the sign-in page
    await expect(page.locator("h1")).to_have_text("Sign in to the console")
    assert "/console/signin?next=%2Fconsole%2Fshipments%3Fstatus%3Dpending" in page.url
    await screenshots(page, "signin")

    await page.fill("#api_key", merchant["api_key"])
    await page.click("form[action='/console/signin'] button[type=submit]")
    await page.wait_for_url(f"{console_hub.url}/console/shipments?status=pending")  # where it was going
    await page.click("nav[aria-label=Console] >> text=Fleet map")
    await expect(page.locator(".merchant")).to_have_text("Tehran Flowers")
    nav = page.locator("nav[aria-label=Console] a")
    assert await nav.all_inner_texts() == ["Fleet map", "Shipments", "Webhooks", "Operations"]
    await expect(nav.first).to_have_attribute("aria-current", "page")
    cookie = await session_cookie(context)
    stored = " ".join(
        [
            *(f"{c['name']}={c['value']}" for c in await context.cookies()),
            await page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"),
            await page.content(),
        ]
    )
    assert merchant["api_key"] not in stored  # the key never reaches the browser
    assert cookie not in await page.content()  # the session id is not readable by scripts either
    assert await csp_violations(page) == []


async def test_a_wrong_key_a_disabled_merchant_and_hostile_input_are_refused_as_pages(
    console_hub: Hub, http: httpx.AsyncClient, page: Page
) -> None:
    merchant = await new_merchant(http)
    await page.goto(f"{console_hub.url}/console/signin")
    await page.fill("#api_key", "hk_" + "x" * 43)
    await page.click("form[action='/console/signin'] button[type=submit]")
    await expect(page.locator("#signin-error")).to_have_text("this API key is unknown or was revoked")

    disabled = await http.post(
        f"/v1/merchants/{merchant['id']}/disable", json={"reason": "unpaid"}, headers=admin_headers()
    )
    assert disabled.status_code == 200, disabled.text
    await page.fill("#api_key", merchant["api_key"])
    await page.click("form[action='/console/signin'] button[type=submit]")
    await expect(page.locator("#signin-error")).to_contain_text("disabled by the operator")
    assert not [c for c in await page.context.cookies() if c["name"] == "hub_console"]

    # Straight at the form handler: whatever arrives, a 4xx page, never a 5xx.
    pre = "p" * 32
    cookies = {"hub_console_signin": pre}
    hostile = [
        (b"csrf=" + pre.encode() + b"&api_key=" + b"k" * 100_000, 413),  # huge
        (b"csrf=" + pre.encode() + b"&api_key=%ff%fe", 400),  # invalid UTF-8
        (b"csrf=" + pre.encode() + b"&api_key=%ed%a0%80", 400),  # a lone surrogate, UTF-8 encoded
        (b"csrf=" + pre.encode() + b"&api_key=\xff\xfe", 400),  # raw bytes that are not ASCII
        (b"csrf=" + pre.encode() + b"&api_key=a&api_key=b", 400),  # twice
        (b"csrf=" + pre.encode() + b"&api_key=%00hk_", 400),  # a control character
        (b"csrf=" + pre.encode() + b"&api_key=" + b"k" * 5000, 422),  # longer than any key
        (b"csrf=" + pre.encode() + b"&" + b"&".join(b"f%d=1" % i for i in range(50)), 400),  # many fields
    ]
    for body, status in hostile:
        answer = await http.post("/console/signin", content=body, headers={**FORM, **jar(cookies)})
        assert answer.status_code == status, (body[:60], answer.status_code)
        assert answer.headers["content-type"].startswith("text/html")
    answer = await http.post("/console/signin", json={"api_key": merchant["api_key"]})
    assert answer.status_code == 415
    for target in ["https://evil.example/", "//evil.example/console", "/console//evil.example", "/v1/keys"]:
        form = await http.get("/console/signin", params={"next": target})
        assert 'name="next" value="/console/"' in form.text  # after sign-in: only a console page


async def test_csrf_a_post_without_or_with_a_wrong_token_is_403(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page
) -> None:
    merchant = await new_merchant(http)
    # The sign-in form itself: its token must come in the field and, equal, in its cookie.
    for body, cookies in [
        (f"api_key={merchant['api_key']}", {"hub_console_signin": "a" * 32}),  # no field
        (f"csrf={'a' * 32}&api_key={merchant['api_key']}", {}),  # no cookie (another site's form)
        (f"csrf={'b' * 32}&api_key={merchant['api_key']}", {"hub_console_signin": "a" * 32}),
    ]:
        answer = await http.post("/console/signin", content=body, headers={**FORM, **jar(cookies)})
        assert answer.status_code == 403 and "hub_console=" not in answer.headers.get("set-cookie", "")

    await sign_in(page, console_hub, merchant["api_key"])
    cookies = {"hub_console": await session_cookie(context)}
    csrf = await page.locator("form.signout input[name=csrf]").input_value()
    for body in [b"", b"csrf=", b"csrf=" + b"x" * len(csrf), b"csrf=" + csrf.encode()[:-1]]:
        answer = await http.post("/console/signout", content=body, headers={**FORM, **jar(cookies)})
        assert answer.status_code == 403, body
    wrong_header = {"x-csrf-token": "nope", **FORM}
    answer = await http.post("/console/signout", headers={**wrong_header, **jar(cookies)})
    assert answer.status_code == 403
    page_after = await http.get("/console/", headers=jar(cookies))
    assert page_after.status_code == 200 and "Fleet map" in page_after.text  # still signed in


async def test_signing_out_ends_the_session_for_the_old_cookie_too(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page
) -> None:
    merchant = await new_merchant(http)
    await sign_in(page, console_hub, merchant["api_key"])
    old = await session_cookie(context)
    await page.click("form.signout button")
    await expect(page.locator("h1")).to_have_text("Sign in to the console")
    await page.goto(f"{console_hub.url}/console")  # redirected to /console/
    await expect(page.locator("h1")).to_have_text("Sign in to the console")

    replayed = await http.get("/console/", headers=jar({"hub_console": old}))  # someone kept the cookie
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/console/signin")
    followed = await http.get("/console/", headers=jar({"hub_console": old}), follow_redirects=True)
    assert "Sign in to the console" in followed.text and merchant["id"] not in followed.text
    refused = await http.post(
        "/console/signout", content=b"csrf=x", headers={**FORM, **jar({"hub_console": old})}
    )
    assert refused.status_code == 303  # already signed out: nothing to refuse


async def test_revoking_the_key_ends_its_sessions(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page, store: Redis
) -> None:
    merchant = await new_merchant(http)
    second = (
        await http.post("/v1/keys", json={"name": "console"}, headers=bearer(merchant["api_key"]))
    ).json()
    await sign_in(page, console_hub, second["key"])
    cookie = await session_cookie(context)
    assert (await http.get("/console/", headers=jar({"hub_console": cookie}))).status_code == 200

    revoked = await http.delete(f"/v1/keys/{second['id']}", headers=bearer(merchant["api_key"]))
    assert revoked.status_code == 204, revoked.text
    await page.goto(f"{console_hub.url}/console")  # redirected to /console/
    await expect(page.locator("h1")).to_have_text("Sign in to the console")
    assert (await http.get("/console/", headers=jar({"hub_console": cookie}))).status_code == 303
    assert not await store.exists(keys.console_session(digest(cookie)))  # ended, not just refused


async def test_disabling_the_merchant_ends_its_sessions(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page
) -> None:
    merchant = await new_merchant(http)
    await sign_in(page, console_hub, merchant["api_key"])
    cookie = await session_cookie(context)
    disabled = await http.post(
        f"/v1/merchants/{merchant['id']}/disable", json={"reason": "audit"}, headers=admin_headers()
    )
    assert disabled.status_code == 200, disabled.text
    assert (await http.get("/console/shipments", headers=jar({"hub_console": cookie}))).status_code == 303
    enabled = await http.post(f"/v1/merchants/{merchant['id']}/enable", headers=admin_headers())
    assert enabled.status_code == 200, enabled.text
    # Enabled again, the ended session stays ended: the merchant signs in anew.
    assert (await http.get("/console/shipments", headers=jar({"hub_console": cookie}))).status_code == 303


async def test_a_session_expires_after_its_idle_time(
    console_hub: Hub, http: httpx.AsyncClient, context: BrowserContext, page: Page, store: Redis
) -> None:
    merchant = await new_merchant(http)
    await sign_in(page, console_hub, merchant["api_key"])
    cookie = await session_cookie(context)
    ttl_s = await store.ttl(keys.console_session(digest(cookie)))
    assert 0 < ttl_s <= console_hub.settings.console.session_idle_s
    await store.expire(keys.console_session(digest(cookie)), 0)  # what the TTL does, now
    answer = await http.get("/console/", headers=jar({"hub_console": cookie}))
    assert answer.status_code == 303


async def test_the_dev_sign_in_link_works_once(
    console_hub: Hub, http: httpx.AsyncClient, page: Page, store: Redis
) -> None:
    merchant = await new_merchant(http, "Demo shop")
    [key] = (await http.get("/v1/keys", headers=bearer(merchant["api_key"]))).json()["data"]
    ticket = await sessions.mint_ticket(store, merchant["id"], key["id"])
    link = f"{console_hub.url}/console/signin/link?ticket={ticket}"
    await page.goto(link)
    await expect(page.locator(".merchant")).to_have_text("Demo shop", timeout=TIMEOUT_MS)
    again = await http.get(link)
    assert again.status_code == 401 and "used already" in again.text
    for hostile in ["", "x" * 5000, "%ff%fe", "%ed%a0%80"]:
        answer = await http.get(f"/console/signin/link?ticket={hostile}")
        assert answer.status_code == 401


async def test_a_production_hub_has_no_sign_in_link_route() -> None:
    app = create_app(Settings())  # HUB_CONSOLE_DEV_SIGNIN_LINKS unset
    [console] = [route for route in app.routes if isinstance(route, Mount) and route.path == "/console"]
    paths = {getattr(route, "path", "") for route in console.routes}
    assert "/signin" in paths and "/signin/link" not in paths


async def test_the_session_cookie_is_secure_behind_https(http: httpx.AsyncClient) -> None:
    merchant = await new_merchant(http)
    https = {"x-forwarded-proto": "https"}  # as a TLS-terminating proxy on this host says
    form = await http.get("/console/signin", headers=https)
    assert "secure" in form.headers["set-cookie"].lower()
    pre = form.cookies["hub_console_signin"]
    body = f"csrf={pre}&api_key={merchant['api_key']}"
    signed = await http.post(
        "/console/signin", content=body, headers={**FORM, **https, **jar({"hub_console_signin": pre})}
    )
    assert signed.status_code == 303
    [session] = [c for c in signed.headers.get_list("set-cookie") if c.startswith("hub_console=")]
    attributes = {part.strip().lower() for part in session.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/console"} <= attributes
    assert merchant["api_key"] not in " ".join(signed.headers.get_list("set-cookie"))
