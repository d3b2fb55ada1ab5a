"""Field types shared by the bodies of several resources: text that any database stores,
and times (:data:`Moment` out, :data:`MomentIn` in)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, PlainSerializer

from dispatch.domain import TZ

__all__ = ["Moment", "MomentIn", "Text", "bad_text", "shanghai"]


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


def shanghai(moment: datetime) -> datetime:
    """The same instant in Asia/Shanghai (+08:00). A naive time is a stored one that lost
    its zone (SQLite gives back naive UTC, see :func:`api.models.aware`): taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TZ)


Moment = Annotated[datetime, PlainSerializer(shanghai, return_type=datetime)]
"""A time in an answer: serialised as ISO 8601 in Asia/Shanghai with its offset
(``2026-09-15T08:00:00+08:00``), whatever zone (or none, UTC) it was held in."""

MomentIn = AwareDatetime
"""A time in a request: ISO 8601 with an offset (``+08:00``, ``Z``); one without is a 422
naming the field."""
