"""Typed errors of the routing core; callers map them to exit codes and HTTP statuses."""

from __future__ import annotations

from typing import Any


class InputError(ValueError):
    """The caller's input is wrong; `field` names what, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from (field, reason), not from the formatted message, so the error
        # survives pickling between a planning worker process and its parent.
        return (type(self), (self.field, self.reason))


class NotFoundError(InputError):
    """An id that does not name anything known (a place, a profile)."""
