"""The tracking page's languages, and which one a request asks for (``?lang=``, then Accept-Language).

The page's catalogs are ``hub/static/track/i18n/<code>.json``, one per language, the same keys
in each (a test checks). The server picks the first language so the page's ``lang`` and ``dir``
are right before any script runs; the page's own switch (remembered in the browser) may change it.
"""

from __future__ import annotations

# code -> text direction; the providers' countries: Iran (fa), India (hi), the Gulf (ar), Thailand (th).
LANGUAGES: dict[str, str] = {"en": "ltr", "fa": "rtl", "ar": "rtl", "th": "ltr", "hi": "ltr"}
DEFAULT = "en"
MAX_HEADER_CHARS = 1000
MAX_RANGES = 20


def negotiate(asked: str | None, accept_language: str | None) -> str:
    """``asked`` (``?lang=``) when it is one of ours, else the best of Accept-Language, else English."""
    if asked and asked.lower() in LANGUAGES:
        return asked.lower()
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "")[:MAX_HEADER_CHARS].split(",")[:MAX_RANGES]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
            if not 0 <= quality <= 1:  # also NaN
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT
