"""(being written) planning jobs."""

from __future__ import annotations

from api.settings import Settings


def reap_stale(settings: Settings) -> None:
    """Mark running jobs whose worker died as queued again or failed."""
