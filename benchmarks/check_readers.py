"""Read benchmark instance files with ``routing.bench`` and print what was read.

For each file: kind, tasks, jobs / shipments, vehicles, capacity, the lower bound
``ceil(total demand / capacity)``, the scheduling horizon, and how many requests cannot be
served even alone on their own vehicle (depot -> request -> depot, windows and capacity in
the integer model: 0 expected). When a CVRPLIB ``.sol`` file sits next to a ``.vrp`` file
its routes are scored with ``BenchInstance.cost`` and compared to its ``Cost`` line
(customer ``c`` of a ``.sol`` is node ``c + 1``, i.e. job id ``c + 1``).

Run: ``.venv/bin/python benchmarks/check_readers.py PATH [PATH ...]`` (files or directories;
``.vrptw``, ``.vrp`` and ``.txt`` files in directories are read).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path

from routing.bench import BenchInstance, read_instance
from routing.errors import InputError
from routing.model import Step
from routing.solution import RoutePlan

SUFFIXES = (".vrptw", ".vrp", ".txt")


def files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.suffix.lower() in SUFFIXES)
        else:
            out.append(p)
    return out


def alone_infeasible(inst: BenchInstance) -> int:
    """Requests that no single vehicle can serve alone (vehicle 0's window and capacity)."""
    p = inst.problem
    v = p.vehicles[0]
    dur = p.durations["car"]
    depot_s, depot_e = v.time_window.start, v.time_window.end
    bad = 0

    def visit(t_now: int, loc: int, task: int) -> tuple[int, int] | None:
        t = p.tasks[task]
        arrive = t_now + int(dur[loc, t.location])
        for w in t.time_windows:
            if arrive <= w.end:
                start = max(arrive, w.start)
                return start + t.service_s, t.location
        return None

    requests: list[list[int]] = [[t.index] for t in p.tasks if t.kind == "job"]
    requests += [[s.pickup, s.delivery] for s in p.shipments]
    for req in requests:
        now, loc, ok = depot_s, 0, True
        for task in req:
            step = visit(now, loc, task)
            if step is None:
                ok = False
                break
            now, loc = step
        load = sum(
            p.tasks[t].delivery[0]
            + (p.shipments[p.tasks[t].shipment].amount[0] if p.tasks[t].kind == "pickup" else 0)
            for t in req
        )
        if not ok or now + int(dur[loc, 0]) > depot_e or load > v.capacity[0]:
            bad += 1
    return bad


def check_sol(inst: BenchInstance, sol: Path) -> str:
    text = sol.read_text()
    by_id = {t.id: t.index for t in inst.problem.tasks}
    routes = []
    for k, m in enumerate(re.finditer(r"Route\s*#\s*\d+\s*:(.*)", text)):
        steps = tuple(Step("job", by_id[int(c) + 1]) for c in m.group(1).split())
        routes.append(RoutePlan(k, steps))
    cost_match = re.search(r"Cost\s+([\d.]+)", text)
    if cost_match is None:
        return "sol: no Cost line"
    expected = float(cost_match.group(1))
    served = sorted(s.ref for r in routes for s in r.steps)
    ok_cover = served == list(range(len(inst.problem.tasks)))
    cost = inst.cost(routes)
    load_ok = all(
        sum(inst.problem.tasks[s.ref].delivery[0] for s in r.steps)
        <= inst.problem.vehicles[0].capacity[0]
        for r in routes
    )
    verdict = "OK" if cost == expected and ok_cover and load_ok else "MISMATCH"
    return f"sol {len(routes)} routes cost {cost:g} vs {expected:g} {verdict}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", type=Path, nargs="+")
    args = parser.parse_args(argv)
    kinds: Counter[str] = Counter()
    failures = 0
    mismatches = 0
    for f in files(args.paths):
        t0 = time.perf_counter()
        try:
            inst = read_instance(f)
        except InputError as exc:
            print(f"{f.name}: ERROR {exc}")
            failures += 1
            continue
        ms = 1000 * (time.perf_counter() - t0)
        p = inst.problem
        kinds[inst.kind] += 1
        cap = p.vehicles[0].capacity[0]
        demand = sum(t.delivery[0] for t in p.tasks) + sum(s.amount[0] for s in p.shipments)
        horizon = p.vehicles[0].time_window.end if inst.kind != "cvrp" else "-"
        line = (
            f"{inst.name:12s} {inst.kind:5s} tasks={len(p.tasks):4d} "
            f"jobs={sum(t.kind == 'job' for t in p.tasks):4d} shipments={len(p.shipments):3d} "
            f"vehicles={len(p.vehicles):3d} cap={cap:5d} lb_veh={math.ceil(demand / cap):3d} "
            f"scale={inst.scale:3d} horizon={horizon}"
            f" alone_infeasible={alone_infeasible(inst)} read={ms:.0f}ms"
        )
        if p.vehicles[0].fixed_cost:
            line += f" fixed={p.vehicles[0].fixed_cost}"
        sol = f.with_suffix(".sol")
        if f.suffix.lower() == ".vrp" and sol.exists():
            verdict = check_sol(inst, sol)
            mismatches += "MISMATCH" in verdict
            line += " " + verdict
        print(line)
    summary = ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items()))
    print(
        f"read {sum(kinds.values())} instances ({summary}); {failures} failed; "
        f"{mismatches} .sol cost mismatches"
    )
    return 1 if failures or mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
