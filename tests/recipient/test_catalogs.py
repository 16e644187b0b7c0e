"""Every language of the tracking page says everything, and the right language is picked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hub import providers
from hub.api.track_languages import LANGUAGES, negotiate
from hub.model.status import Status

STATIC = Path(__file__).resolve().parents[2] / "hub" / "static" / "track"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalog(lang: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    return loaded


def test_there_is_one_catalog_per_language_and_the_page_offers_each() -> None:
    assert sorted(p.stem for p in (STATIC / "i18n").glob("*.json")) == sorted(LANGUAGES)
    page, script = (STATIC / "track.html").read_text(), (STATIC / "track-i18n.js").read_text()
    for lang in LANGUAGES:
        assert f'<option value="{lang}"' in page and f'"{lang}"' in script


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_each_catalog_has_every_key_every_status_and_the_same_placeholders(lang: str) -> None:
    english, words = catalog("en"), catalog(lang)
    assert set(words) == set(english)
    assert {f"status.{status.value}" for status in Status} <= set(words)  # every unified status
    for key, text in words.items():
        assert isinstance(text, str) and text.strip(), (lang, key)
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), (lang, key)
    if lang != "en":  # translated, not copied (a brand-free string may match by chance: few may)
        assert sum(words[k] == english[k] for k in words) <= 1


@pytest.mark.parametrize(
    ("asked", "accept", "chosen"),
    [
        (None, "fa-IR,fa;q=0.9,en-US;q=0.8", "fa"),
        (None, "de-DE, ar-SA;q=0.5, th;q=0.7", "th"),
        (None, "hi", "hi"),
        (None, "zz, xx;q=0.4", "en"),
        (None, "fa;q=0, ar;q=0.1", "ar"),  # q=0 means "not this one"
        (None, "fa;q=nan, th;q=2, hi;q=abc, ar", "ar"),
        (None, "," * 10_000 + "fa", "en"),  # a hostile header is read only so far
        (None, None, "en"),
        ("TH", "fa", "th"),  # ?lang= wins over the browser
        ("klingon", "fa", "fa"),
        ("\ud800", "ar", "ar"),
    ],
)
def test_the_language_comes_from_lang_then_accept_language(
    asked: str | None, accept: str | None, chosen: str
) -> None:
    assert negotiate(asked, accept) == chosen


def test_every_provider_declares_its_real_name() -> None:
    names = {name: providers.display_name(name) for name in providers.PROVIDERS}
    assert names["hld"] == "AL Services HLD" and names["alopeyk"] == "Alopeyk"
    assert all(names.values()) and len(set(names.values())) == len(names)
    assert providers.display_name("nobody") == "nobody"
