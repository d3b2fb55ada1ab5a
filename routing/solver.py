"""The optimisation engine on Google OR-Tools: the only module that imports ``ortools``.

``solve(problem, time_limit, seed)`` turns a :class:`routing.model.Problem` into an OR-Tools
routing model (capacities with simultaneous pickup and delivery, time windows with waiting,
shipments as pickup-and-delivery pairs, skills, breaks, task / travel / distance limits,
VROOM-style costs), searches, and returns a :class:`routing.solution.Solution`. Tasks no
vehicle can serve at all are screened out first with a reason (``routing.reasons``); the
rest are optional at a penalty so that a usable plan always comes back.

Dropping a task costs more than any route could save by leaving it out; dropping a task of
higher priority costs more than dropping any number of lower-priority ones (VROOM's order:
priority first, then the number of tasks, then cost).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.check import CheckReport, check_solution
from routing.model import MAX_TIME, Problem, Step, Vehicle
from routing.reasons import explain, screen
from routing.solution import RoutePlan, Solution, SolveStats, Unassigned
from routing.stop import FirstOf, MaxRuntime, StoppingCriterion, converged

FIRST_SOLUTION = routing_enums_pb2.FirstSolutionStrategy
METAHEURISTIC = routing_enums_pb2.LocalSearchMetaheuristic


@dataclass(frozen=True)
class SearchConfig:
    """How to search: first-solution strategy and metaheuristic names (OR-Tools enums)."""

    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    gls_lambda: float = 0.1
    # Iterated local search with SISR ruin-and-recreate (OR-Tools >= 9.12).
    ils: bool = False
    sisr_max_sequence: int = 10
    sisr_avg_removed: int = 10
    sisr_bypass: float = 0.01
    recreate: str = "LOCAL_CHEAPEST_INSERTION"
    improve_perturbed: bool = True
    sa_automatic: bool = True
    # Share of the time limit for our SISR ruin-and-recreate (routing.sisr) before the
    # OR-Tools search polishes its routes; 0 runs OR-Tools alone.
    sisr_share: float = 0.85
    # The polish of SISR's routes: "descent" (OR-Tools local search to a local optimum,
    # within the time left), "gls" (guided local search for all the time left), "none".
    polish: str = "descent"


class _Model:
    """An OR-Tools routing model of a problem, restricted to the servable tasks."""

    def __init__(self, problem: Problem, tasks: Sequence[int], exact_setup: bool = False) -> None:
        self.problem = problem
        self.tasks = list(tasks)
        self.exact_setup = exact_setup
        n_t, n_v = len(self.tasks), len(problem.vehicles)
        self.n_nodes = n_t + 2 * n_v
        starts = [n_t + v for v in range(n_v)]
        ends = [n_t + n_v + v for v in range(n_v)]
        self.manager = pywrapcp.RoutingIndexManager(self.n_nodes, n_v, starts, ends)
        self.routing = pywrapcp.RoutingModel(self.manager)
        self.solver = self.routing.solver()
        self.node_of_task = {t: k for k, t in enumerate(self.tasks)}

        task_objs = [problem.tasks[t] for t in self.tasks]
        self.loc = np.array(
            [t.location for t in task_objs]
            + [-1 if v.start is None else v.start for v in problem.vehicles]
            + [-1 if v.end is None else v.end for v in problem.vehicles],
            dtype=np.int64,
        )
        self.service = np.array([t.service_s for t in task_objs] + [0] * (2 * n_v), np.int64)
        self.setup = np.array([t.setup_s for t in task_objs] + [0] * (2 * n_v), np.int64)

        self._build_time_and_cost()
        self._build_loads()
        self._build_limits()
        self._build_pairs_skills_and_drops()

    # ---- matrices ------------------------------------------------------------------------
    def _node_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Location matrix -> node matrix (0 to and from a vehicle without start/end)."""
        virtual = self.loc < 0
        safe = np.where(virtual, 0, self.loc)
        out = matrix[np.ix_(safe, safe)].astype(np.int64)
        out[virtual, :] = 0
        out[:, virtual] = 0
        return out

    def _build_time_and_cost(self) -> None:
        p, routing = self.problem, self.routing
        travel_cache: dict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = {}
        self.vehicle_travel: list[tuple[np.ndarray, np.ndarray]] = []
        time_cb: dict[tuple[str, float], int] = {}
        cost_cb: dict[tuple[str, float, int, int], int] = {}
        time_evaluators = []
        differs = self.loc[:, None] != self.loc[None, :]
        for v in p.vehicles:
            key = (v.profile, v.speed_factor)
            if key not in travel_cache:
                dur, dist = p.travel(v)
                travel_cache[key] = (self._node_matrix(dur), self._node_matrix(dist))
            node_dur, node_dist = travel_cache[key]
            self.vehicle_travel.append((node_dur, node_dist))
            if key not in time_cb:
                transit = self.service[:, None] + np.where(differs, self.setup[None, :], 0)
                transit = transit + node_dur
                np.fill_diagonal(transit, 0)
                time_cb[key] = routing.RegisterTransitMatrix(transit.tolist())
            time_evaluators.append(time_cb[key])
            ckey = (v.profile, v.speed_factor, v.per_hour, v.per_km)
            if ckey not in cost_cb:
                cost = np.rint(v.per_hour * node_dur / 3600 + v.per_km * node_dist / 1000)
                cost_cb[ckey] = routing.RegisterTransitMatrix(cost.astype(np.int64).tolist())
            routing.SetArcCostEvaluatorOfVehicle(cost_cb[ckey], v.index)
            if v.fixed_cost:
                routing.SetFixedCostOfVehicle(v.fixed_cost, v.index)
        self.max_arc_cost = 0
        for v in p.vehicles:
            node_dur, node_dist = self.vehicle_travel[v.index]
            arc = (
                v.per_hour * node_dur.max(initial=0) / 3600
                + v.per_km * node_dist.max(initial=0) / 1000
            )
            self.max_arc_cost = max(self.max_arc_cost, int(arc) + 1)

        horizon = self._horizon()
        routing.AddDimensionWithVehicleTransits(time_evaluators, horizon, horizon, False, "time")
        self.time = routing.GetDimensionOrDie("time")
        for v in p.vehicles:
            tw = v.time_window
            self.time.CumulVar(routing.Start(v.index)).SetRange(tw.start, min(tw.end, horizon))
            self.time.CumulVar(routing.End(v.index)).SetMax(min(tw.end, horizon))
            routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(routing.End(v.index)))
            routing.AddVariableMaximizedByFinalizer(self.time.CumulVar(routing.Start(v.index)))
        for k, t in enumerate(self.tasks):
            # The cumul is when setup ends (the transit holds the setup), but a window
            # bounds when setup starts, and setup is spent only after a move: the cumul
            # must lie in [start + setup, end] to be right in both cases (conservative by
            # the setup at a window's end). With ``exact_setup`` (the polish, whose answer
            # the checker confirms) it lies in [start + setup, end + setup]: exact after a
            # move, too loose by the setup for a task at its predecessor's place.
            setup = p.tasks[t].setup_s
            late = setup if self.exact_setup else 0
            windows = [
                (w.start + setup, w.end + late)
                for w in p.tasks[t].time_windows
                if w.start + setup <= w.end + late
            ]
            var = self.time.CumulVar(self.manager.NodeToIndex(k))
            if not windows:
                self.routing.ActiveVar(self.manager.NodeToIndex(k)).SetValue(0)
                continue
            var.SetRange(windows[0][0], min(windows[-1][1], horizon))
            for a, b in itertools.pairwise(windows):
                if b[0] > a[1] + 1:
                    var.RemoveInterval(a[1] + 1, b[0] - 1)
        self._build_breaks(horizon)

    def _horizon(self) -> int:
        """A bound on any time in a schedule (finite even when windows are open)."""
        p = self.problem
        vehicle_ends = [v.time_window.end for v in p.vehicles]
        if all(e < MAX_TIME for e in vehicle_ends):
            return max(vehicle_ends)  # every vehicle is back by then
        times = [v.time_window.start for v in p.vehicles] + [
            w.end if w.end < MAX_TIME else w.start
            for t in self.tasks
            for w in p.tasks[t].time_windows
        ]
        longest_leg = max((int(d.max(initial=0)) for d, _ in self.vehicle_travel), default=0)
        work = int(self.service.sum() + self.setup.sum()) + (len(self.tasks) + 2) * longest_leg
        breaks = sum(b.service_s for v in p.vehicles for b in v.breaks)
        return int(min(max(times) + work + breaks, MAX_TIME))

    def _build_breaks(self, horizon: int) -> None:
        p = self.problem
        if not any(v.breaks for v in p.vehicles):
            return
        visit = (self.service + self.setup).tolist()
        self.break_vars: dict[int, list[pywrapcp.IntervalVar]] = {}
        for v in p.vehicles:
            intervals = []
            for b in v.breaks:
                first, last = b.time_windows[0].start, min(b.time_windows[-1].end, horizon)
                iv = self.solver.FixedDurationIntervalVar(
                    first, last, b.service_s, False, f"break {v.id}/{b.id}"
                )
                for a, c in itertools.pairwise(b.time_windows):
                    if c.start > a.end + 1:
                        iv.StartExpr().Var().RemoveInterval(a.end + 1, c.start - 1)
                intervals.append(iv)
                self.routing.AddIntervalToAssignment(iv)
            if intervals:
                self.time.SetBreakIntervalsOfVehicle(intervals, v.index, visit)
                self.break_vars[v.index] = intervals

    # ---- loads ---------------------------------------------------------------------------
    def _build_loads(self) -> None:
        """Per dimension: remaining deliveries (R) and picked-up load (P); R + P <= capacity."""
        p, routing = self.problem, self.routing
        n_t = len(self.tasks)
        amounts = p.shipment_amounts()
        for k in range(p.n_dims):
            deliv = np.zeros(self.n_nodes, np.int64)
            picked = np.zeros(self.n_nodes, np.int64)
            for node, t in enumerate(self.tasks):
                task = p.tasks[t]
                if task.kind == "job":
                    deliv[node] = task.delivery[k]
                    picked[node] = task.pickup[k]
                else:
                    a = amounts[task.shipment][k]
                    picked[node] = a if task.kind == "pickup" else -a
            caps = [int(v.capacity[k]) for v in p.vehicles]
            dims = []
            if deliv.any() and not picked.any():
                # Deliveries only: the load peaks at the start, so the classic cumulative
                # dimension (sum of deliveries <= capacity) is exact and propagates best.
                cb = routing.RegisterUnaryTransitVector(deliv.tolist())
                routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, f"deliveries{k}")
                continue
            if deliv.any():
                cb = routing.RegisterUnaryTransitVector((-deliv).tolist())
                routing.AddDimensionWithVehicleCapacity(cb, 0, caps, False, f"deliveries{k}")
                dim = routing.GetDimensionOrDie(f"deliveries{k}")
                for v in p.vehicles:
                    dim.CumulVar(routing.End(v.index)).SetValue(0)
                dims.append(dim)
            if picked.any():
                cb = routing.RegisterUnaryTransitVector(picked.tolist())
                routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, f"pickups{k}")
                dims.append(routing.GetDimensionOrDie(f"pickups{k}"))
            if len(dims) == 2:
                self._bound_sum(dims[0], dims[1], caps, n_t)

    def _bound_sum(
        self, a: pywrapcp.RoutingDimension, b: pywrapcp.RoutingDimension, caps: list[int], n_t: int
    ) -> None:
        """On-board load = remaining deliveries + picked-up goods never exceeds capacity."""
        routing, solver = self.routing, self.solver
        same = len(set(caps)) == 1
        for node in range(n_t):
            i = self.manager.NodeToIndex(node)
            total = a.CumulVar(i) + b.CumulVar(i)
            if same:
                solver.Add(total <= caps[0])
            else:
                cap = solver.Element([max(caps), *caps], routing.VehicleVar(i) + 1)
                solver.Add(total <= cap)
        for v, cap in enumerate(caps):
            for i in (routing.Start(v), routing.End(v)):
                solver.Add(a.CumulVar(i) + b.CumulVar(i) <= cap)

    # ---- limits, pairs, skills, drops ------------------------------------------------------
    def _build_limits(self) -> None:
        p, routing = self.problem, self.routing
        if any(v.max_tasks is not None for v in p.vehicles):
            ones = [1] * len(self.tasks) + [0] * (2 * len(p.vehicles))
            cb = routing.RegisterUnaryTransitVector(ones)
            caps = [len(self.tasks) if v.max_tasks is None else v.max_tasks for v in p.vehicles]
            routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, "tasks")
        for name, limit, pick in (
            ("travel", "max_travel_time", 0),
            ("distance", "max_distance", 1),
        ):
            limits = [getattr(v, limit) for v in p.vehicles]
            if all(x is None for x in limits):
                continue
            cbs = {}
            evaluators = []
            for v in p.vehicles:
                key = (v.profile, v.speed_factor)
                if key not in cbs:
                    cbs[key] = routing.RegisterTransitMatrix(
                        self.vehicle_travel[v.index][pick].tolist()
                    )
                evaluators.append(cbs[key])
            big = int(sum(m[pick].max(initial=0) for m in self.vehicle_travel)) * (
                len(self.tasks) + 2
            )
            caps = [big if x is None else int(x) for x in limits]
            routing.AddDimensionWithVehicleTransitAndCapacity(evaluators, 0, caps, True, name)

    def _build_pairs_skills_and_drops(self) -> None:
        p, routing, solver = self.problem, self.routing, self.solver
        n_tasks = len(self.tasks)
        base = max((v.fixed_cost for v in p.vehicles), default=0) + 2 * self.max_arc_cost + 1
        for t, node in self.node_of_task.items():
            task = p.tasks[t]
            index = self.manager.NodeToIndex(node)
            penalty = base * (1 + task.priority * (n_tasks + 1))
            routing.AddDisjunction([index], int(penalty))
            barred = [v.index for v in p.vehicles if not v.can_serve(task)]
            if barred:
                # VehicleVar rather than SetAllowedVehiclesForIndex: the latter's Python
                # binding rejects every list in OR-Tools 9.15 (absl::Span typemap).
                routing.VehicleVar(index).RemoveValues(barred)
        for s in p.shipments:
            if s.pickup not in self.node_of_task:
                continue
            pi = self.manager.NodeToIndex(self.node_of_task[s.pickup])
            di = self.manager.NodeToIndex(self.node_of_task[s.delivery])
            routing.AddPickupAndDelivery(pi, di)
            solver.Add(routing.VehicleVar(pi) == routing.VehicleVar(di))
            solver.Add(routing.ActiveVar(pi) == routing.ActiveVar(di))
            solver.Add(self.time.CumulVar(pi) <= self.time.CumulVar(di))

    # ---- solving -------------------------------------------------------------------------
    def parameters(
        self,
        time_limit: float,
        config: SearchConfig,
        solution_limit: int | None,
        descent: bool = False,
    ) -> pywrapcp.DefaultRoutingSearchParameters:
        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = getattr(FIRST_SOLUTION, config.first_solution)
        heuristic = "GREEDY_DESCENT" if descent and config.polish == "descent" else None
        params.local_search_metaheuristic = getattr(
            METAHEURISTIC, heuristic or config.metaheuristic
        )
        params.guided_local_search_lambda_coefficient = config.gls_lambda
        params.time_limit.FromMilliseconds(max(1, int(time_limit * 1000)))
        if solution_limit is not None:
            params.solution_limit = solution_limit
        if config.ils:
            params.use_iterated_local_search = True
            ils = params.iterated_local_search_parameters
            ils.improve_perturbed_solution = config.improve_perturbed
            rr = ils.ruin_recreate_parameters
            del rr.ruin_strategies[:]
            sisr = rr.ruin_strategies.add().sisr
            sisr.max_removed_sequence_size = config.sisr_max_sequence
            sisr.avg_num_removed_visits = config.sisr_avg_removed
            sisr.bypass_factor = config.sisr_bypass
            rr.recreate_strategy.heuristic = getattr(FIRST_SOLUTION, config.recreate)
            sa = ils.reference_solution_acceptance_strategy.simulated_annealing
            sa.automatic_temperatures = config.sa_automatic
        return params

    def routes_from(self, assignment: pywrapcp.Assignment) -> list[RoutePlan]:
        p, routing = self.problem, self.routing
        plans = []
        for v in p.vehicles:
            index = routing.Start(v.index)
            visits: list[tuple[int, int]] = []  # (task index, service start)
            index = assignment.Value(routing.NextVar(index))
            while not routing.IsEnd(index):
                node = self.manager.IndexToNode(index)
                visits.append((self.tasks[node], assignment.Value(self.time.CumulVar(index))))
                index = assignment.Value(routing.NextVar(index))
            if not visits:
                continue
            steps = [Step(p.tasks[t].kind, t) for t, _ in visits]
            steps = self._place_breaks(v, visits, steps, assignment)
            plans.append(RoutePlan(v.index, tuple(steps)))
        return plans

    def _place_breaks(
        self,
        v: Vehicle,
        visits: list[tuple[int, int]],
        steps: list[Step],
        assignment: pywrapcp.Assignment,
    ) -> list[Step]:
        intervals = getattr(self, "break_vars", {}).get(v.index)
        if not intervals:
            return steps
        # A break goes before the first visit whose service starts after the break began.
        placed: list[tuple[int, int]] = []
        for k, iv in enumerate(intervals):
            start = assignment.StartValue(iv)
            pos = next((i for i, (_, s) in enumerate(visits) if s >= start), len(visits))
            placed.append((pos, k))
        out: list[Step] = []
        for i, step in enumerate([*steps, Step("end")]):
            out.extend(Step("break", k) for pos, k in sorted(placed) if pos == i)
            if step.kind != "end":
                out.append(step)
        return out


def solve(
    problem: Problem,
    time_limit: float = 10.0,
    seed: int = 0,
    *,
    stop: StoppingCriterion | None = None,
    config: SearchConfig | None = None,
    solution_limit: int | None = None,
    initial: Sequence[RoutePlan] | None = None,
) -> Solution:
    """Optimise routes for a problem within ``time_limit`` seconds.

    Our SISR ruin-and-recreate search (``routing.sisr``) runs until ``stop`` (default: the
    time limit, or earlier once it has converged, :func:`routing.stop.converged`), then
    OR-Tools' local search descends from its routes to a local optimum in what time is
    left (:attr:`SearchConfig.polish`). A problem with a feature SISR does not model runs
    on OR-Tools' guided local search alone, and ``stats.fallback`` says why. The result is
    deterministic for a given problem, seed and an iteration bound in ``stop`` (with
    ``solution_limit`` for the OR-Tools-only path); under a wall-clock limit alone, a
    faster or busier machine explores more or less of it. The compiled search is loaded
    (or compiled) before the clock starts.
    """
    config = config or SearchConfig()
    if config.sisr_share > 0:
        from routing import sisr  # numba-compiled; loaded only when optimising

        sisr.warm_up()
    started = time.perf_counter()
    impossible = screen(problem)
    servable = [t.index for t in problem.tasks if t.index not in impossible]
    path, fallback = _path(problem, servable, config)
    found = None
    if path == "sisr":
        units = sum(1 for t in servable if problem.tasks[t].kind != "delivery")
        budget = MaxRuntime(max(0.0, time_limit * config.sisr_share))
        criterion = FirstOf(budget, stop) if stop is not None else FirstOf(budget, converged(units))
        found = sisr.improve(problem, criterion, seed, tasks=servable, initial=initial)
        initial = found.routes
    routes: tuple[RoutePlan, ...] = found.routes if found else ()
    objective = found.cost if found else None
    polish, polish_s, status = "", 0.0, None
    if path == "ortools" or (path == "sisr" and config.polish != "none"):
        t_polish = time.perf_counter()
        remaining = max(0.05, time_limit - (t_polish - started))
        result = _ortools(problem, servable, remaining, config, solution_limit, initial, found)
        polish_s = time.perf_counter() - t_polish
        status = result.status
        if path == "ortools":
            routes, objective = result.routes or (), result.objective
        elif result.routes is None:
            polish = f"skipped: {result.why}"
        elif _better(problem, result.routes, routes):
            routes, path, polish = result.routes, "sisr+ortools", "improved"
            objective = result.objective
        else:
            polish = "no gain"
    routed = _routed(routes)
    used = {r.vehicle for r in routes}
    unassigned: list[Unassigned] = list(impossible.values())
    unassigned += [explain(problem, t, used) for t in servable if t not in routed]
    unassigned.sort(key=lambda u: u.task)
    stats = SolveStats(
        path=path,
        seed=seed,
        seconds=round(time.perf_counter() - started, 3),
        time_limit=time_limit,
        stopped_by=found.stopped_by if found else ("max_runtime" if path == "ortools" else ""),
        fallback=fallback,
        sisr_iterations=found.iterations if found else 0,
        sisr_seconds=round(found.seconds, 3) if found else 0.0,
        sisr_cost=found.cost if found else None,
        polish=polish,
        polish_seconds=round(polish_s, 3),
        ortools_status=status,
        objective=objective,
    )
    return Solution(
        routes=tuple(routes), unassigned=tuple(unassigned), stats=stats, problem=problem
    )


def _path(problem: Problem, servable: Sequence[int], config: SearchConfig) -> tuple[str, str]:
    """Which search runs (a :data:`routing.solution.PATHS` entry) and, when it is OR-Tools
    alone, why."""
    if not servable:
        return "none", ""
    if config.sisr_share <= 0:
        return "ortools", "SISR switched off (SearchConfig.sisr_share = 0)"
    from routing import sisr

    fallback = sisr.unsupported(problem)
    return ("ortools" if fallback else "sisr"), fallback


def _routed(routes: Sequence[RoutePlan]) -> set[int]:
    return {s.ref for r in routes for s in r.steps if s.kind != "break"}


def _better(
    problem: Problem, candidate: Sequence[RoutePlan], incumbent: Sequence[RoutePlan]
) -> bool:
    """True when the checker finds ``candidate`` feasible and ahead of ``incumbent`` in the
    order both searches' objective follows: unassigned tasks weighted by priority
    (``1 + priority * (n + 1)`` each) first, then the routes' cost."""

    def report(routes: Sequence[RoutePlan]) -> CheckReport:
        left = [t.index for t in problem.tasks if t.index not in _routed(routes)]
        return check_solution(problem, routes, left)

    def rank(r: CheckReport) -> tuple[int, int]:
        n = len(problem.tasks)
        return sum(1 + problem.tasks[t].priority * (n + 1) for t in r.unassigned), r.cost

    new = report(candidate)
    return new.feasible and rank(new) < rank(report(incumbent))


@dataclass(frozen=True)
class _OrToolsResult:
    routes: tuple[RoutePlan, ...] | None  # None: no assignment (``why`` says)
    objective: int | None
    status: int | None
    why: str = ""


def _ortools(
    problem: Problem,
    servable: Sequence[int],
    time_limit: float,
    config: SearchConfig,
    solution_limit: int | None,
    initial: Sequence[RoutePlan] | None,
    found: Any,
) -> _OrToolsResult:
    """OR-Tools on the servable tasks: guided local search from scratch (or from
    ``initial``) when SISR did not run, else a descent from SISR's routes (``found``)."""
    polish = found is not None
    model = _Model(problem, servable, exact_setup=polish)
    params = model.parameters(time_limit, config, solution_limit, descent=polish)
    if initial:
        routes: list[list[int]] = [[] for _ in problem.vehicles]
        for plan in initial:
            routes[plan.vehicle] = [
                model.manager.NodeToIndex(model.node_of_task[s.ref])
                for s in plan.steps
                if s.kind != "break" and s.ref in model.node_of_task
            ]
        start = model.routing.ReadAssignmentFromRoutes(routes, True)
        if start is None:
            if polish:
                why = "the SISR routes are outside the OR-Tools model"
                return _OrToolsResult(None, None, int(model.routing.status()), why)
            assignment = model.routing.SolveWithParameters(params)
        else:
            assignment = model.routing.SolveFromAssignmentWithParameters(start, params)
    else:
        assignment = model.routing.SolveWithParameters(params)
    status = int(model.routing.status())
    if assignment is None:
        return _OrToolsResult(None if polish else (), None, status, "no solution found")
    return _OrToolsResult(
        tuple(model.routes_from(assignment)), int(assignment.ObjectiveValue()), status
    )
