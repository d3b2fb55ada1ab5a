"""The progress of a plan: a bar on stderr, or a line per step where it is not a terminal.

:func:`dispatch.plan.day.plan_day` reports each phase (the echelons, cost allocation) and
each stage solved; the API's worker feeds the same calls into a job's heartbeat.
"""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["Progress"]


class Progress:
    """A progress bar on stderr (a line per step when stderr is not a terminal)."""

    def __init__(self, enabled: bool = True, stream: Any = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self.label = ""
        self.total = 0
        self.done = 0

    def phase(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self._draw(force=True)

    def step(self, n: int = 1) -> None:
        self.done += n
        self._draw(force=self.done >= self.total)

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        width = 28
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * round(width * frac) + "." * (width - round(width * frac))
        text = (
            f"{self.label:<28} [{bar}] {self.done}/{self.total} "
            f"{time.perf_counter() - self.t0:6.1f} s"
        )
        if self.tty:
            self.stream.write("\r" + text + ("\n" if force and self.done >= self.total else ""))
            self.stream.flush()
        elif force:
            self.stream.write(text + "\n")
            self.stream.flush()
