"""Typed errors of the routing core; callers map them to exit codes and HTTP statuses."""

from __future__ import annotations


class InputError(ValueError):
    """The caller's input is wrong; `field` names what, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFoundError(InputError):
    """An id that does not name anything known (a place, a profile)."""
