"""When a search stops: small criteria objects behind one interface (PyVRP's style).

A criterion answers ``criterion(progress) -> bool`` ("stop now?") for a
:class:`Progress` (iterations done, seconds spent, iterations since the last new best),
and gives its :class:`Bounds` so that a compiled search loop can test the same limits
without calling back into Python. Combine criteria with :class:`FirstOf` (stop when any
says so); the bounds combine to the tightest of each.

- :class:`MaxRuntime` — seconds of wall clock (a safety net: a machine runs at its speed);
- :class:`MaxIterations` — iterations; when one is given, the search's cooling schedule
  follows iterations only, so the result is the same for a seed on any machine;
- :class:`NoImprovement` — iterations without a new best solution: the search has
  converged. :func:`converged` is the default rule, sized to the problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Bounds",
    "FirstOf",
    "MaxIterations",
    "MaxRuntime",
    "NoImprovement",
    "Progress",
    "StoppingCriterion",
    "converged",
]


@dataclass(frozen=True)
class Progress:
    """Where a search is: iterations done, seconds spent, iterations since its last best."""

    iterations: int
    seconds: float
    stalled: int


@dataclass(frozen=True)
class Bounds:
    """The limits a criterion sets (None: none)."""

    seconds: float | None = None
    iterations: int | None = None
    stalled: int | None = None

    def tighter(self, other: Bounds) -> Bounds:
        """The tightest of both in every field."""

        def low(a: float | None, b: float | None) -> float | None:
            return b if a is None else a if b is None else min(a, b)

        it = low(self.iterations, other.iterations)
        st = low(self.stalled, other.stalled)
        return Bounds(
            low(self.seconds, other.seconds),
            None if it is None else int(it),
            None if st is None else int(st),
        )


class StoppingCriterion(Protocol):
    """Stop a search: ``criterion(progress)`` is True when it should end now."""

    def __call__(self, progress: Progress) -> bool: ...

    def bounds(self) -> Bounds: ...


@dataclass(frozen=True)
class MaxRuntime:
    """Stop after ``seconds`` of wall clock."""

    seconds: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds >= 0):
            raise ValueError(
                f"MaxRuntime: seconds must be a finite number >= 0, not {self.seconds}"
            )

    def __call__(self, progress: Progress) -> bool:
        return progress.seconds >= self.seconds

    def bounds(self) -> Bounds:
        return Bounds(seconds=self.seconds)


@dataclass(frozen=True)
class MaxIterations:
    """Stop after ``iterations`` iterations (deterministic for a seed)."""

    iterations: int

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise ValueError(f"MaxIterations: must be >= 0, not {self.iterations}")

    def __call__(self, progress: Progress) -> bool:
        return progress.iterations >= self.iterations

    def bounds(self) -> Bounds:
        return Bounds(iterations=self.iterations)


@dataclass(frozen=True)
class NoImprovement:
    """Stop after ``iterations`` iterations in a row without a new best solution."""

    iterations: int

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ValueError(f"NoImprovement: must be >= 1, not {self.iterations}")

    def __call__(self, progress: Progress) -> bool:
        return progress.stalled >= self.iterations

    def bounds(self) -> Bounds:
        return Bounds(stalled=self.iterations)


class FirstOf:
    """Stop as soon as any of the criteria says so."""

    def __init__(self, *criteria: StoppingCriterion) -> None:
        if not criteria:
            raise ValueError("FirstOf needs at least one criterion")
        self.criteria = criteria

    def __call__(self, progress: Progress) -> bool:
        return any(c(progress) for c in self.criteria)

    def bounds(self) -> Bounds:
        out = Bounds()
        for c in self.criteria:
            out = out.tighter(c.bounds())
        return out

    def __repr__(self) -> str:
        return f"FirstOf({', '.join(map(repr, self.criteria))})"


# Converged: no new best in STALL_PER_UNIT2 * units^2 iterations (a job or a shipment is a
# unit), never fewer than STALL_MIN. The search anneals over its time limit, so while it is
# hot the best rarely improves: a bound of 1000 iterations per unit stopped stage problems
# of the daily plan (40-50 units) at under half of their limit (532329 of the bundled day:
# 1.4 s of 2.9 s, its cost then 1.008 x VROOM's; benchmarks/plan_stages.py, 2026-12-02).
# Quadratic, it lets VROOM's 2-job example stop after 2,000 iterations (3 ms) and seldom
# cuts a mid-size search short.
STALL_PER_UNIT2 = 40
STALL_MIN = 2000


def converged(units: int) -> NoImprovement:
    """The default convergence rule for a problem of ``units`` jobs and shipments."""
    return NoImprovement(max(STALL_MIN, STALL_PER_UNIT2 * units * units))
