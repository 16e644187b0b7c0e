"""A merchant's brand on its recipients' tracking page: a display name, a colour and a logo.

The name and colour live in the merchant's hash; the logo's bytes (base64, the client decodes
replies as text) in a key of their own, its type and SHA-256 in the hash. Only PNG, JPEG and
WebP are kept, recognised by their first bytes whatever the caller claims (no SVG: it can
carry script). The logo is served by the hub itself, because the page's CSP allows images
from the hub's own origin and the tile host only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from hub import keys

MAX_NAME_CHARS = 60
MAX_LOGO_BYTES = 256 * 1024
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_FIELDS = ["brand_name", "brand_color", "brand_logo_type", "brand_logo_sha256", "brand_logo_bytes"]
BLACK, WHITE = "#000000", "#ffffff"


class NotAnImage(ValueError):
    """The bytes are none of the image types a logo may be."""


@dataclass(frozen=True)
class Logo:
    content_type: str
    sha256: str
    size_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"content_type": self.content_type, "sha256": self.sha256, "size_bytes": self.size_bytes}


@dataclass(frozen=True)
class Brand:
    display_name: str | None = None
    color: str | None = None
    logo: Logo | None = None

    @property
    def text_color(self) -> str | None:
        """Black or white, whichever reads better on the brand colour (WCAG contrast ratio)."""
        return readable_text_on(self.color) if self.color else None

    def to_json(self) -> dict[str, Any]:
        return {
            "display_name": self.display_name,
            "color": self.color,
            "text_color": self.text_color,
            "logo": None if self.logo is None else self.logo.to_json(),
        }


def image_type(data: bytes) -> str:
    """The image's media type from its magic bytes; raises :class:`NotAnImage`."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise NotAnImage("a logo must be a PNG, JPEG or WebP image (recognised by its first bytes)")


def _luminance(color: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb``."""
    channels = []
    for i in (1, 3, 5):
        c = int(color[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def readable_text_on(background: str) -> str:
    """Black or white text: any colour has at least 4.5:1 against one of them."""
    return BLACK if contrast_ratio(background, BLACK) >= contrast_ratio(background, WHITE) else WHITE


async def get(redis: Redis, merchant_id: str) -> Brand:
    name, color, logo_type, logo_sha, logo_bytes = await redis.hmget(keys.merchant(merchant_id), _FIELDS)
    logo = Logo(logo_type, logo_sha, int(logo_bytes or 0)) if logo_type and logo_sha else None
    return Brand(name or None, color or None, logo)


async def set_text(redis: Redis, merchant_id: str, display_name: str | None, color: str | None) -> Brand:
    """Replace the display name and colour (None clears one); the logo is kept."""
    key = keys.merchant(merchant_id)
    pipe = redis.pipeline(transaction=True)
    for field, value in (("brand_name", display_name), ("brand_color", color)):
        if value is None:
            pipe.hdel(key, field)
        else:
            pipe.hset(key, field, value)
    await pipe.execute()
    return await get(redis, merchant_id)


async def set_logo(redis: Redis, merchant_id: str, data: bytes) -> Brand:
    """Store ``data`` as the logo; raises :class:`NotAnImage`."""
    content_type = image_type(data)
    mapping = {
        "brand_logo_type": content_type,
        "brand_logo_sha256": hashlib.sha256(data).hexdigest(),
        "brand_logo_bytes": len(data),
    }
    pipe = redis.pipeline(transaction=False)  # two slots on a cluster; the bytes first, then their record
    pipe.set(keys.merchant_logo(merchant_id), base64.b64encode(data).decode("ascii"))
    pipe.hset(keys.merchant(merchant_id), mapping=mapping)
    await pipe.execute()
    return await get(redis, merchant_id)


async def delete_logo(redis: Redis, merchant_id: str) -> None:
    pipe = redis.pipeline(transaction=False)
    pipe.hdel(keys.merchant(merchant_id), "brand_logo_type", "brand_logo_sha256", "brand_logo_bytes")
    pipe.delete(keys.merchant_logo(merchant_id))
    await pipe.execute()


async def logo_bytes(redis: Redis, merchant_id: str) -> tuple[Logo, bytes] | None:
    """The logo and its bytes, when the merchant has one."""
    brand = await get(redis, merchant_id)
    encoded = await redis.get(keys.merchant_logo(merchant_id)) if brand.logo else None
    if brand.logo is None or encoded is None:
        return None
    return brand.logo, base64.b64decode(encoded)
