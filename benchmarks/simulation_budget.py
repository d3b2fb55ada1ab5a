"""What the simulations' per-day effort costs against the product's full planning budget.

    .venv/bin/python benchmarks/simulation_budget.py --scenario phase2 --days 6

For each of ``--days`` sample days of the scenario (spread over its range), the shared
plan of the day's in-scope orders is made twice:

* as ``codist simulate`` makes it (``simulations.day``): the search bounded by the
  scenario's iterations per lot, no OR-Tools polish, one process, the parties alone too;
* as the service plans a day (``PlanOptions()``: a 25 s wall-clock budget over the
  machine's cores, OR-Tools descent after the search), the shared plan only.

It prints each day's shared cost both ways, the gap (simulation / full - 1), the orders
each serves and the seconds each took, then the mean gap. Villages are on the county
routes in both ("direct"), as the simulation plans them.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from dispatch.domain import Day
from dispatch.plan.day import PlanOptions, plan_day
from simulations.day import alone_orders, in_scope, orders_of, simulate_day, world_for
from simulations.run import sample_days
from simulations.scenario import load_scenario


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="phase2")
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--full-time-limit", type=float, default=25.0)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    world = world_for(scenario)
    gaps = []
    head = ("day", "sim fen", "full fen", "gap %", "orders", "sim s", "full s")
    print(
        f"{head[0]:<12}{head[1]:>12}{head[2]:>12}{head[3]:>8}{head[4]:>14}"
        + "".join(f"{h:>8}" for h in head[5:])
    )
    for day in sample_days(scenario.start, scenario.end, args.days):
        t0 = time.perf_counter()
        record = simulate_day(scenario, day)
        sim_s = time.perf_counter() - t0
        today = orders_of(world, day)
        shared = [o for o in today if in_scope(world, o)]
        alone, _ = alone_orders(world, day, today)
        out_of_scope = {o.id for o in alone if not in_scope(world, o)}
        plan_in = Day(date=day, parties=dict(world.parties), orders=shared, fleet=list(world.fleet))
        t0 = time.perf_counter()
        full = plan_day(
            plan_in,
            world.network_on(day),
            replace(
                PlanOptions(),
                time_limit=args.full_time_limit,
                separate=False,
                counties=world.counties,
                last_mile="direct",
                seed=scenario.seed,
            ),
        )
        full_s = time.perf_counter() - t0
        full_fen = full.shared.cost_fen()
        # the simulation's shared run alone (its figure also holds out-of-scope routes)
        sim_fen = record["baselines"]["shared"]["cost_fen"]
        if out_of_scope:
            print(f"{day}: {len(out_of_scope)} orders out of scope; comparing shared figures")
        served_full = sum(1 for oc in full.outcomes.values() if oc.assigned)
        served_sim = record["baselines"]["shared"]["orders_served"]
        gap = 100 * (sim_fen / full_fen - 1)
        gaps.append(gap)
        print(
            f"{day.isoformat():<12}{sim_fen:>12}{full_fen:>12}{gap:>8.2f}"
            f"{served_sim:>7}/{served_full:<6}{sim_s:>8.1f}{full_s:>8.1f}",
            flush=True,
        )
    if gaps:
        print(f"mean gap {sum(gaps) / len(gaps):.2f} % over {len(gaps)} days")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
