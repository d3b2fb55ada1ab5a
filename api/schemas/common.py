"""Field types shared by the request bodies of several resources."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

__all__ = ["Text", "bad_text"]


def bad_text(value: str) -> str | None:
    """Why a text cannot be stored (NUL or unpaired surrogates), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    return None


def _clean(value: str) -> str:
    reason = bad_text(value)
    if reason:
        raise ValueError(reason)
    return value


Text = Annotated[str, AfterValidator(_clean)]
"""A string that can be stored in any of the supported databases."""
