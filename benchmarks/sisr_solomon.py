"""Score the SISR heuristic (``routing.sisr.improve``) alone on benchmark instances.

Each instance is read with ``routing.bench.read_instance``, solved from scratch within the
time limit, verified with ``routing.check.check_solution`` and scored in its set's own
distance convention (``BenchInstance.cost``); the gap is ``100 * (cost - bks) / bks``.
Best-known values come from ``--bks`` or, by default, ``benchmarks/bks/{solomon,x,lilim}.csv``
by the instance's kind. The numba kernels are loaded (or compiled) on a tiny problem before
the clock starts; the reported seconds include everything ``improve`` does.

Run::

    PYTHONPATH=. .venv/bin/python benchmarks/sisr_solomon.py \\
        /work/shared/bench/solomon/*.vrptw --time-limit 10 [--bks benchmarks/bks/solomon.csv]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from routing.bench import read_bks, read_instance
from routing.check import check_solution
from routing.model import ProblemBuilder
from routing.sisr import improve

BKS_DIR = Path(__file__).parent / "bks"
DEFAULT_BKS = {"vrptw": "solomon.csv", "cvrp": "x.csv", "pdptw": "lilim.csv"}


def _warm_up() -> None:
    """Load the compiled kernels (compiling them on first use) outside any timing."""
    b = ProblemBuilder(n_dims=1)
    b.set_matrix("car", [[0, 5, 7], [5, 0, 3], [7, 3, 0]])
    for k in (1, 2):
        b.add_job(id=k, location=k, where=f"jobs[{k}]", delivery=[1])
    b.add_shipment(
        where="shipments[0]",
        amount=[1],
        pickup={"id": 1, "location": 1},
        delivery={"id": 1, "location": 2},
    )
    b.add_vehicle(id=1, where="vehicles[0]", start=0, end=0, capacity=[5])
    improve(b.build(), 5.0, max_iterations=5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bks", type=Path, default=None, help="CSV instance,vehicles,cost")
    args = ap.parse_args()

    _warm_up()
    bks_cache: dict[Path, dict[str, tuple[int | None, float]]] = {}
    gaps: list[float] = []
    rates: list[float] = []
    print(
        f"{'instance':<12} {'veh':>4} {'bks_veh':>7} {'cost':>11} {'bks':>11} {'gap%':>7} "
        f"{'feasible':>8} {'iters':>8} {'it/s':>7} {'s':>6}",
        flush=True,
    )
    for path in args.paths:
        inst = read_instance(path)
        res = improve(inst.problem, args.time_limit, seed=args.seed)
        report = check_solution(inst.problem, res.routes, res.unassigned)
        feasible = report.feasible and not res.unassigned
        cost = inst.cost(res.routes)
        bks_path = args.bks or BKS_DIR / DEFAULT_BKS[inst.kind]
        if bks_path not in bks_cache:
            bks_cache[bks_path] = read_bks(bks_path)
        table = bks_cache[bks_path]
        known = table.get(inst.name) or {k.lower(): v for k, v in table.items()}.get(
            inst.name.lower()
        )
        gap_text, veh_text = "-", "-"
        if known is not None:
            bks_veh, bks_cost = known
            gap = 100.0 * (cost - bks_cost) / bks_cost
            gaps.append(gap)
            gap_text = f"{round(gap, 2) + 0.0:.2f}"  # no "-0.00"
            veh_text = str(bks_veh) if bks_veh is not None else "-"
        rate = res.iterations / max(res.seconds, 1e-9)
        rates.append(rate)
        bks_text = f"{known[1]:.2f}" if known else "-"
        print(
            f"{inst.name:<12} {len(res.routes):>4} {veh_text:>7} {cost:>11.2f} {bks_text:>11} "
            f"{gap_text:>7} {feasible!s:>8} {res.iterations:>8} {rate:>7.0f} "
            f"{res.seconds:>6.1f}",
            flush=True,
        )
    if gaps:
        print(
            f"mean gap {statistics.fmean(gaps):.3f} % over {len(gaps)} instances "
            f"(max {max(gaps):.2f} %), mean {statistics.fmean(rates):.0f} iterations/s"
        )


if __name__ == "__main__":
    main()
