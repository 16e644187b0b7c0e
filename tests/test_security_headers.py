"""Every page and JSON answer carries a CSP, frame denial, nosniff and a referrer policy, and the
tracking page needs nothing the CSP forbids (no inline script or style)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from hub.web.security_headers import content_security_policy, tile_source
from tests.conftest import admin_headers, bearer
from tests.test_api import register

EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def assert_secured(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get_list(name) == [value], (response.request.url, name)
    [policy] = response.headers.get_list("content-security-policy")
    csp = directives(policy)
    assert csp["default-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:", "https://tile.openstreetmap.org"]  # the default tiles


async def test_pages_json_errors_and_static_files_all_carry_the_headers(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    shipment = (await register(http, merchant["api_key"], "all24", "HSBY37H7")).json()
    token = shipment["tracking_token"]
    answers = [
        await http.get(f"/track/{token}"),
        await http.get(f"/v1/track/{token}"),
        await http.get("/static/live/track.js"),
        await http.get("/static/leaflet/leaflet.css"),
        await http.get("/healthz"),
        await http.get("/readyz"),
        await http.get("/openapi.json"),
        await http.get("/metrics"),
        await http.get(f"/v1/shipments/{shipment['id']}", headers=bearer(merchant["api_key"])),
        await http.get("/v1/merchants", headers=admin_headers()),
        await http.get("/track/no-such-token"),  # 404
        await http.get("/v1/shipments/x", headers=bearer("hk_wrong")),  # 401
        await http.post("/v1/shipments", content=b"{", headers=bearer(merchant["api_key"])),  # 400
        await http.delete("/healthz"),  # 405
        await http.get("/nowhere"),  # 404 without a route
    ]
    assert answers[0].headers["content-type"].startswith("text/html") and answers[0].status_code == 200
    assert [a.status_code for a in answers[-5:]] == [404, 401, 400, 405, 404]
    for answer in answers:
        assert_secured(answer)


class _InlineFinder(HTMLParser):
    """Collects what a ``script-src 'self'; style-src 'self'`` policy would block."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "style":
            self.blocked.append("<style>")
        if tag == "script":
            if not names.get("src"):
                self.blocked.append("inline <script>")
            self.scripts.append(names.get("src") or "")
        self.blocked += [f"{tag} {name}=" for name in names if name == "style" or name.startswith("on")]
        if tag == "a" and (names.get("href") or "").startswith("javascript:"):
            self.blocked.append("javascript: link")


async def test_the_tracking_page_has_no_inline_script_or_style(
    http: httpx.AsyncClient, merchant: dict[str, Any]
) -> None:
    token = (await register(http, merchant["api_key"], "all24", "HSBY37H7")).json()["tracking_token"]
    finder = _InlineFinder()
    finder.feed((await http.get(f"/track/{token}")).text)
    assert finder.blocked == []
    assert finder.scripts == [  # our own origin
        "/static/leaflet/leaflet.js",
        "/static/live/track-i18n.js",
        "/static/live/track-map.js",
        "/static/live/track.js",
    ]


@pytest.mark.parametrize(
    ("tile_url", "source"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.tile.example.com:8443/{z}/{x}/{y}.png", "https://*.tile.example.com:8443"),
        ("http://127.0.0.1:9/{z}/{x}/{y}.png", "http://127.0.0.1:9"),
        ("https://{s}/{z}/{x}/{y}.png", "https:"),  # a host CSP cannot express: the scheme only
        ("/tiles/{z}/{x}/{y}.png", None),  # the hub's own: 'self'
        ("", None),  # no tiles
    ],
)
def test_the_tile_host_is_the_only_other_image_source(tile_url: str, source: str | None) -> None:
    assert tile_source(tile_url) == source
    img = directives(content_security_policy(tile_url))["img-src"]
    assert img == ["'self'", "data:", *([source] if source else [])]
