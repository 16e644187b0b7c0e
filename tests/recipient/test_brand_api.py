"""The brand API: a merchant sets its own display name, colour and logo; hostile input gets a precise 4xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hub.registry.brand import MAX_LOGO_BYTES, contrast_ratio, readable_text_on
from tests.conftest import bearer, create_merchant
from tests.recipient.images import JPEG_HEADER, WEBP_HEADER, png
from tests.test_api import register

BRAND = "/v1/merchant/brand"
LOGO = "/v1/merchant/brand/logo"


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_the_brand_is_set_shown_and_reaches_the_tracking_view(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    key = merchant["api_key"]
    assert (await http.get(BRAND, headers=bearer(key))).json() == {
        "display_name": None, "color": None, "text_color": None, "logo": None
    }  # fmt: skip
    put = await http.put(
        BRAND, json={"display_name": "  Café Rosé  ", "color": "#FFD700"}, headers=bearer(key)
    )
    assert put.status_code == 200, put.text
    assert put.json()["display_name"] == "Café Rosé" and put.json()["color"] == "#ffd700"
    assert put.json()["text_color"] == "#000000"  # black reads better on gold
    image = png()
    logo = await http.put(LOGO, content=image, headers={**bearer(key), "Content-Type": "image/png"})
    assert logo.status_code == 200 and logo.json()["logo"]["size_bytes"] == len(image)

    token = (await register(http, key, "hld", "HLDBRAND1")).json()["tracking_token"]
    view = (await http.get(f"/v1/track/{token}")).json()
    assert view["provider_name"] == "AL Services HLD" and view["provider"] == "hld"
    assert view["brand"]["name"] == "Café Rosé" and view["brand"]["text_color"] == "#000000"
    served = await http.get(view["brand"]["logo_url"])
    assert served.status_code == 200 and served.content == image
    assert (
        served.headers["content-type"] == "image/png"
        and served.headers["x-content-type-options"] == "nosniff"
    )
    assert merchant["id"] not in view["brand"]["logo_url"]  # the merchant id never goes public

    # Replacing the name and colour keeps the logo; clearing them is null (or leaving them out).
    cleared = await http.put(BRAND, json={"display_name": None}, headers=bearer(key))
    assert cleared.json()["display_name"] is None and cleared.json()["color"] is None
    assert cleared.json()["logo"] is not None
    assert (await http.delete(LOGO, headers=bearer(key))).status_code == 204
    assert (await http.get(view["brand"]["logo_url"])).status_code == 404
    assert (await http.get(f"/v1/track/{token}")).json()["brand"]["logo_url"] is None


async def test_one_merchant_never_changes_or_sees_another_merchants_brand(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    other = await create_merchant(http, "Shop Two")
    await http.put(
        BRAND, json={"display_name": "Mine", "color": "#112233"}, headers=bearer(merchant["api_key"])
    )
    await http.put(BRAND, json={"display_name": "Theirs"}, headers=bearer(other["api_key"]))
    await http.put(LOGO, content=png(), headers={**bearer(other["api_key"]), "Content-Type": "image/png"})
    mine = (await http.get(BRAND, headers=bearer(merchant["api_key"]))).json()
    assert mine["display_name"] == "Mine" and mine["logo"] is None
    token = (await register(http, merchant["api_key"], "all24", "BRAND2")).json()["tracking_token"]
    assert (await http.get(f"/v1/track/{token}/logo")).status_code == 404  # not the other one's logo
    for headers in ({}, bearer("hk_not_a_key")):
        refused = await http.put(BRAND, json={"display_name": "X"}, headers=headers)
        assert refused.status_code == 401 and error_of(refused)["code"] == "unauthorized"
    assert (await http.get(BRAND, headers=bearer(merchant["api_key"]))).json()["display_name"] == "Mine"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"color": "red"}', "color"),
        (b'{"color": "#fff"}', "color"),
        (b'{"color": "#GGGGGG"}', "color"),
        (b'{"color": "#ffffff\\n"}', "color"),
        (b'{"color": 16777215}', "color"),
        (b'{"color": ["#ffffff"]}', "color"),
        (b'{"display_name": ""}', "display_name"),
        (b'{"display_name": "' + b"x" * 61 + b'"}', "display_name"),
        (b'{"display_name": "' + b"x" * 100_000 + b'"}', None),  # over the body limit: 413
        (b'{"display_name": "a\\u0000b"}', "display_name"),
        (b'{"display_name": {"deep": [[[]]]}}', "display_name"),
        (b'{"display_name": "\\ud800"}', None),  # a lone surrogate: refused by the body reader
        (b'{"logo": "x"}', "logo"),
        (b"[]", None),
        (b"{", None),
        (b"\xff\xfe", None),
    ],
)
async def test_hostile_brand_bodies_get_a_precise_refusal(
    http: httpx.AsyncClient, merchant: dict[str, Any], body: bytes, field: str | None
) -> None:
    response = await http.put(BRAND, content=body, headers=bearer(merchant["api_key"]))
    error = error_of(response)
    if field is not None:
        assert response.status_code == 422 and error.get("field") == field, response.text
    assert (await http.get(BRAND, headers=bearer(merchant["api_key"]))).json()["display_name"] is None


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("image/png", b"<svg onload='alert(1)'/>", 415),  # not an image by its bytes
        ("image/svg+xml", b"<svg/>", 415),  # SVG can carry script: never a logo
        ("text/plain", png(), 415),
        ("", png(), 415),
        ("image/jpeg", png(), 415),  # bytes and Content-Type disagree
        ("image/webp", JPEG_HEADER + b"\x00" * 32, 415),
        ("image/png", b"", 422),
        ("image/png", png() + b"\x00" * MAX_LOGO_BYTES, 413),
        ("image/png", b"\x89PNG\r\n", 415),  # a truncated signature
    ],
)
async def test_hostile_logos_get_a_precise_refusal(
    http: httpx.AsyncClient, merchant: dict[str, Any], content_type: str, body: bytes, status: int
) -> None:
    headers = {**bearer(merchant["api_key"]), "Content-Type": content_type}
    response = await http.put(LOGO, content=body, headers=headers)
    assert response.status_code == status and error_of(response)["message"], response.text
    assert (await http.get(BRAND, headers=bearer(merchant["api_key"]))).json()["logo"] is None


async def test_jpeg_and_webp_logos_are_taken_by_their_bytes(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    for content_type, body in (
        ("image/jpeg", JPEG_HEADER + b"\x00" * 64),
        ("image/webp", WEBP_HEADER + b"\x00" * 64),
    ):
        headers = {**bearer(merchant["api_key"]), "Content-Type": f"{content_type}; charset=binary"}
        response = await http.put(LOGO, content=body, headers=headers)
        assert response.status_code == 200 and response.json()["logo"]["content_type"] == content_type


HOSTILE_TOKENS = [
    "no-such-token",
    "x" * 10_000,
    "%ED%A0%80",
    "%FF%FE",
    "%00",
    "%F0%9F%98%80" * 50,
    "%7B%7Blang%7D%7D",  # {{lang}}: a placeholder of the page's template
    "%22%3E%3Cscript%3Ealert(1)%3C!--",  # "><script>alert(1)<!--
]


@pytest.mark.parametrize("token", HOSTILE_TOKENS)
async def test_an_unknown_token_is_a_404_for_the_page_its_json_and_its_logo(
    http: httpx.AsyncClient, token: str
) -> None:
    page = await http.get(f"/track/{token}", headers={"Accept-Language": "fa"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert 'data-state="invalid"' in page.text and 'dir="rtl"' in page.text  # said in the viewer's language
    assert "<script>alert" not in page.text  # the token is escaped into the page ...
    if token.startswith("%7B"):
        assert 'data-token="{{lang}}"' in page.text  # ... and never read as one of its placeholders
    for path in (f"/v1/track/{token}", f"/v1/track/{token}/logo"):
        response = await http.get(path)
        assert response.status_code == 404 and error_of(response)["code"] == "not_found", path


@pytest.mark.parametrize(
    "color", ["#000000", "#ffffff", "#777777", "#0b5394", "#ffd700", "#ff0000", "#00ff00", "#76b900"]
)
def test_text_on_the_brand_colour_always_has_accessible_contrast(color: str) -> None:
    assert contrast_ratio(color, readable_text_on(color)) >= 4.5
