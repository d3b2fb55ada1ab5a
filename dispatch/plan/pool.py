"""Solving the stage problems of a phase, in worker processes or in this one.

The time budget (seconds of wall clock, :attr:`PlanOptions.time_limit`) is shared out over
the stages by their lots, a shared stage's lots weighing ``shared_weight`` times a separate
plan's. Worker processes start with the road network and the compiled routing search
loaded, and die with the process that planned.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from dispatch.domain import VehicleSpec
from dispatch.plan.echelon import (
    Effort,
    ServiceTimes,
    Stage,
    StageResult,
    solve_stage,
    time_limit_for,
)
from dispatch.plan.progress import Progress
from dispatch.plan.types import PlanOptions, PlanRun

if TYPE_CHECKING:
    from routing.network import RoadNetwork

# ---- workers ----------------------------------------------------------------------------
_NETWORK: RoadNetwork | None = None


def _init_worker(network: RoadNetwork, parent: int) -> None:
    """A worker process starts with the network and the routing search loaded (compiled
    code from the cache, or inherited from the parent), never inside a stage's budget, and
    dies with the process that planned (a killed job leaves no solver running)."""
    from routing.sisr import warm_up

    _die_with(parent)
    global _NETWORK
    _NETWORK = network
    warm_up()


def _die_with(parent: int) -> None:
    """Ask the kernel to stop this process when its parent dies (Linux: PR_SET_PDEATHSIG);
    elsewhere the pool's own checks stop idle workers once the parent is gone."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _work(
    stage: Stage,
    times: ServiceTimes,
    limit: float,
    seed: int,
    dump_to: Path | None,
    effort: Effort,
) -> StageResult:
    """Solve one stage in a worker process, on the network it started with."""
    assert _NETWORK is not None
    return solve_stage(stage, _NETWORK, times, limit, seed, dump_to, effort)


def _run_stages(
    stages: Sequence[Stage],
    network: RoadNetwork,
    options: PlanOptions,
    budget: float,
    pool: ProcessPoolExecutor | None,
    progress: Progress,
    label: str,
) -> list[StageResult]:
    """Solve ``stages`` in ``budget`` seconds of wall clock, each its share by its weighted
    lots (at most 60 % of the budget), in ``pool`` or, without one, here; the results in
    the stages' order."""
    workers = worker_count(options)
    weights = [options.shared_weight if s.key.startswith("shared/") else 1.0 for s in stages]
    total = sum(w * len(s.lots) for w, s in zip(weights, stages, strict=True)) or 1.0
    per_unit = budget * workers / total
    cap = max(1.0, budget * 0.6)

    def limit(i: int) -> float:
        if options.iterations_per_lot:  # bounded by iterations: the phase's budget caps it
            return max(budget, options.min_stage_s)
        return time_limit_for(len(stages[i].lots), per_unit * weights[i], cap, options.min_stage_s)

    def effort(i: int) -> Effort:
        iterations = round(options.iterations_per_lot * weights[i] * len(stages[i].lots))
        return Effort(iterations, options.polish)

    progress.phase(label, len(stages))
    if pool is None:
        out = []
        for i, s in enumerate(stages):
            out.append(
                solve_stage(
                    s,
                    network,
                    options.service,
                    limit(i),
                    options.seed,
                    options.dump_problems,
                    effort(i),
                )
            )
            progress.step()
        return out
    # biggest first, so the long problems do not start last
    order = sorted(range(len(stages)), key=lambda i: -len(stages[i].lots))
    futures: dict[int, Future[StageResult]] = {}
    for i in order:
        s = stages[i]
        fut = pool.submit(
            _work,
            s,
            options.service,
            limit(i),
            options.seed,
            options.dump_problems,
            effort(i),
        )
        fut.add_done_callback(lambda _f: progress.step())
        futures[i] = fut
    return [futures[i].result() for i in range(len(stages))]


def solve_all(
    stages: Sequence[tuple[PlanRun, Stage]],
    network: RoadNetwork,
    options: PlanOptions,
    share: float,
    pool: ProcessPoolExecutor | None,
    progress: Progress,
    label: str,
) -> list[tuple[PlanRun, StageResult]]:
    """Solve the stages that have lots; ``share`` of the time budget goes to this phase."""
    busy = [(run, s) for run, s in stages if s.lots]
    results = _run_stages(
        [s for _, s in busy], network, options, options.time_limit * share, pool, progress, label
    )
    return [(run, r) for (run, _), r in zip(busy, results, strict=True)]


def warm_hierarchies(network: RoadNetwork, fleet: Sequence[VehicleSpec]) -> None:
    """Load (or build) every profile's matrix hierarchy once, before the workers fork."""
    from routing.network.matrix import hierarchy

    for profile in sorted({v.profile for v in fleet}):
        hierarchy(network, profile)


def worker_count(options: PlanOptions) -> int:
    """How many processes solve stages: ``options.workers``, or one per CPU."""
    return max(1, options.workers or os.cpu_count() or 1)


def start_pool(network: RoadNetwork, workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes (forked where the platform can), each started by
    :func:`_init_worker`."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(network, os.getpid()),
    )
