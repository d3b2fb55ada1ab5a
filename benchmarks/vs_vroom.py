"""Our routing core and VROOM on the same problem files, in one run.

    .venv/bin/pip install -e '.[bench]'      # pyvroom, for this script only
    .venv/bin/python benchmarks/vs_vroom.py FILE... [--time-limit 10] [--exploration 5]

Each benchmark instance is read once, written as a VROOM problem document
(``routing.vroom_io.problem_document``) and given to both engines: VROOM through pyvroom
(one thread, its own stopping rule), ours through ``routing.solver.solve`` with the time
limit. Both answers are re-scored by the same code in the instance's own convention and
checked by ``routing.check``. Prints one line per instance and the mean cost ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from routing.bench import read_instance
from routing.check import check_solution
from routing.model import Problem, Step
from routing.sisr import warm_up
from routing.solution import RoutePlan
from routing.solver import solve
from routing.vroom_io import problem_document


def vroom_routes(problem: Problem, answer: dict[str, Any]) -> tuple[list[RoutePlan], list[int]]:
    """VROOM's routes as our RoutePlans, and its unassigned tasks (task index by kind and
    id)."""
    index = {(t.kind, t.id): t.index for t in problem.tasks}
    vehicle = {v.id: v.index for v in problem.vehicles}
    routes = []
    for r in answer["routes"]:
        steps = tuple(
            Step(s["type"], index[(s["type"], s["id"])])
            for s in r["steps"]
            if s["type"] in ("job", "pickup", "delivery")
        )
        routes.append(RoutePlan(vehicle[r["vehicle"]], steps))
    unassigned = [index[(u["type"], u["id"])] for u in answer["unassigned"]]
    return routes, unassigned


def run_vroom(doc: dict[str, Any], exploration: int) -> tuple[dict[str, Any], float]:
    """VROOM's answer to a problem document (pyvroom, one thread) and its seconds."""
    import vroom

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
        path = f.name
    t = time.perf_counter()
    solution = vroom.Input.from_json(path).solve(exploration_level=exploration, nb_threads=1)
    seconds = time.perf_counter() - t
    Path(path).unlink()
    return solution.to_dict(), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--exploration", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ratios = []
    warm_up()  # the compiled search loads before any solve is timed
    print(f"{'instance':<14} {'vroom':>10} {'s':>5} {'ours':>10} {'s':>5} {'ours/vroom':>10}")
    for path in args.files:
        inst = read_instance(path)
        answer, v_sec = run_vroom(problem_document(inst.problem), args.exploration)
        v_routes, v_unassigned = vroom_routes(inst.problem, answer)
        v_ok = not v_unassigned and check_solution(inst.problem, v_routes, v_unassigned).feasible
        t = time.perf_counter()
        ours = solve(inst.problem, args.time_limit, args.seed)
        o_sec = time.perf_counter() - t
        unassigned = [u.task for u in ours.unassigned]
        o_ok = not unassigned and check_solution(inst.problem, ours.routes, unassigned).feasible
        v_cost, o_cost = inst.cost(v_routes), inst.cost(list(ours.routes))
        ratio = o_cost / v_cost if v_cost else float("nan")
        ratios.append(ratio)
        flags = ("" if v_ok else " vroom-infeasible") + ("" if o_ok else " ours-infeasible")
        print(
            f"{inst.name:<14} {v_cost:>10.1f} {v_sec:>5.1f} {o_cost:>10.1f} {o_sec:>5.1f} "
            f"{ratio:>10.4f}{flags}",
            flush=True,
        )
    if ratios:
        print(f"mean cost ratio ours/vroom: {sum(ratios) / len(ratios):.4f} over {len(ratios)}")
    sys.exit(0)


if __name__ == "__main__":
    main()
