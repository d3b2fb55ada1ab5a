"""The pages' words in Chinese (first) and English: ``strings/<page>.json`` holds
``{"zh": {...}, "en": {...}}`` for one page, ``strings/common.json`` those every page uses.
A key missing in English falls back to the Chinese (a test checks none is missing)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from fastapi import Request

LANGS = ("zh", "en")
LANG_COOKIE = "codist_lang"
STRINGS_DIR = Path(__file__).parent / "strings"


def lang_of(request: Request) -> str:
    """The reader's language: the cookie set by ``/lang/<code>``, else Chinese."""
    lang = request.cookies.get(LANG_COOKIE, "zh")
    return lang if lang in LANGS else "zh"


@functools.cache
def _table(name: str) -> dict[str, dict[str, str]]:
    path = STRINGS_DIR / f"{name}.json"
    if not path.exists():
        return {lang: {} for lang in LANGS}
    data: dict[str, dict[str, str]] = json.loads(path.read_text("utf-8"))
    return data


def strings(lang: str, page: str) -> dict[str, str]:
    """Every word ``page`` shows, in ``lang`` (Chinese where English lacks one)."""
    out: dict[str, str] = {}
    for name in ("common", page):
        table = _table(name)
        out.update(table.get("zh", {}))
        if lang != "zh":
            out.update(table.get(lang, {}))
    return out
