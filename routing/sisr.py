"""SISR: a ruin-and-recreate metaheuristic whose routes seed OR-Tools' final polish.

*Slack Induction by String Removals* (Christiaens & Vanden Berghe, Transportation Science
54(2), 2020), on the full :class:`routing.model.Problem` semantics except vehicle breaks and
planned step times (:func:`unsupported` says which). Every iteration

1. **ruins** the current solution: a random routed seed task, then its nearest tasks in
   turn; the route of each, if not ruined yet, loses a *string* (consecutive tasks holding
   that task) or a *split string* (a longer string of which a random inner part is kept),
   until ``k_s`` routes are ruined. The partner of a removed shipment task goes with it.
   Sizes as in the paper: ``l_s_max = min(L_max, mean tasks per used route)``,
   ``k_s = floor(U(1, 4 c / (1 + l_s_max)))``, string length ``floor(U(1, min(|t|,
   l_s_max) + 1))``, split with probability 1/2, kept part ``m`` grown while ``U > 0.01``;
2. **recreates**: the unrouted jobs and shipments (removed or still unassigned), in random
   (weight 4), decreasing demand (4), far-from-depot (2) or close-to-depot (1) order, each
   go to their cheapest feasible position over all routes (a shipment as a pickup/delivery
   pair on one route), each position being skipped ("blink") with probability 0.01. Empty
   vehicles are candidates too (paying their fixed cost), one per class of identical
   vehicles. A task with no feasible position stays unassigned, at a penalty;
   With a mixed fleet, one iteration in ten (``SWAP_RATE``) instead moves a whole route
   to an unused vehicle of another class (type, capacity, skills, costs), when it is
   feasible there: string removals (at most ``l_s_max`` tasks of a route) cannot make that
   move for a long route, and on the plan's county stages it was often the one between
   our answer and a cheaper one (benchmarks/plan_stages.py problems: -0.8 % summed);
3. **accepts** by simulated annealing: the new solution replaces the current one if its
   objective is below ``current - T ln U``; the best one is kept. ``T`` cools
   exponentially from ``T0`` to ``Tf`` over the time budget (over the iteration bound of
   the stopping criterion when it has one, :mod:`routing.stop`). The search ends at that
   bound, or when the best has not improved for the criterion's ``NoImprovement`` count.
   Fleet minimisation is not a separate phase: fixed costs drive it when present.

The first solution is the recreate step applied to everything not in ``initial`` (routes of
``initial`` that break a constraint are dropped whole).

Temperatures, scale-free. The paper uses ``T0 = 100``, ``Tf = 1`` on CVRPLIB X, whose
coordinates span 0..1000 so that the mean distance between two customers is about 520
(0.52 of the square's side): ``T0 = 0.19 a``, ``Tf = 0.0019 a`` with ``a`` = the mean arc
cost between the tasks' locations (here averaged over the vehicle types). We keep the
paper's ratio ``T0 / Tf = 100`` and the rule ``T = factor * a``, but start hotter:
``T0 = 0.5 a``, ``Tf = 0.005 a``. With our budgets (10^5 - 10^6 iterations rather than
the paper's 10^7 and more), 0.19 left clustered instances with a long-route structure
(Solomon C2) stuck with one route too many on some seeds, while 0.4 - 0.8 did not, and
X instances scored the same from 0.2 to 0.8 (measured at 10 s and 30 s, several seeds).

Objective (the OR-Tools model's): per used vehicle its fixed cost plus, per arc, its
type's ``round(per_hour * s / 3600 + per_km * m / 1000)``; an unassigned task costs
``base * (1 + priority * (n_tasks + 1))`` with ``base = max fixed cost + 2 * max arc cost +
1``, so fewer (and lower-priority) unassigned tasks always win over cost.

Feasibility is exact for the model: time windows (several per task, waiting allowed) and
setup (only after a move) through each route's earliest departures and latest feasible
starts (a multi-window backward pass), so a job insertion is checked in O(1) (one node
more when the successor's setup changes); a shipment insertion carries the shifted times
from its pickup to its delivery. Loads: job deliveries are on board from the start, job
pickups until the end, shipment amounts between pickup and delivery; prefix and suffix
maxima of the load profile check a job in O(dims). Travel time and distance limits: each
route keeps its totals (an unused vehicle's: from its start to its end), so an insertion's
added travel is checked in O(1) against the room left. Also skills, ``max_tasks``, shifts,
start/end locations (``None`` = no travel), speed factors and cost types (vehicles grouped
by profile, speed factor, per-hour and per-km cost, each with its duration and cost
matrices).

The core runs in numba (``njit(cache=True)``); the problem is flattened into arrays once
per call and nothing is cached between calls. The random generator is our own xorshift64*,
so a run is deterministic for a seed when an iteration bound ends it (the time limit still
stops it, as a safety net). Compiled once at install time (``codist warm-up``) into numba's
cache; :func:`warm_up` loads it before any solve's clock starts. Hot kernels take their
arrays one by one and have a single exit: numba otherwise updates the arrays' reference
counts (atomically) on every call, which cost a third of the run time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numba import njit

from routing.model import Problem, ProblemBuilder, Step
from routing.reasons import UNREACHABLE
from routing.solution import RoutePlan
from routing.stop import MaxIterations, StoppingCriterion

__all__ = ["SisrResult", "improve", "supports", "unsupported", "warm_up"]

# ---- parameters (the paper's; temperatures relative to the mean arc cost) ------------------
AVG_REMOVED = 10.0  # c-bar: mean number of tasks removed per ruin
MAX_STRING = 10.0  # L_max: longest string removed from one route
SPLIT_RATE = 0.5  # probability of a split string instead of a string
SPLIT_DEPTH = 0.01  # beta: the kept part of a split string grows while U > beta
BLINK_RATE = 0.01  # probability of skipping an insertion position
T0_PER_ARC = 0.5  # initial temperature / mean arc cost
TF_PER_ARC = 0.005  # final temperature / mean arc cost
N_NEIGHBOURS = 100  # nearest tasks kept per task for the ruin
SWAP_RATE = 0.1  # share of iterations that move a whole route to another vehicle class
CLOCK_EVERY = 0.001  # seconds between clock reads, roughly (the stride adapts)

# ---- flat layout ----------------------------------------------------------------------------
# task columns: location, setup, service, windows [TW0, TW1) in tw_s/tw_e, shipment partner
# (-1 for a job), kind, penalty when unassigned
T_LOC, T_SETUP, T_SERV, T_TW0, T_TW1, T_PARTNER, T_KIND, T_PEN = range(8)
N_TCOL = 8
# vehicle columns: type, start and end location (n_loc = none), shift, fixed cost,
# max_tasks, class of identical vehicles, max travel time (s) and distance (m), INF if none,
# number of breaks and the node of the first (a vehicle's breaks are consecutive nodes)
(V_TYPE, V_START, V_END, V_TWS, V_TWE, V_FIXED, V_MAXT, V_CLASS, V_MAXDUR, V_MAXDIST, V_NBRK,
 V_BRK0) = range(12)  # fmt: skip
N_VCOL = 12
KIND_JOB, KIND_PICKUP, KIND_DELIVERY, KIND_BREAK = 0, 1, 2, 3
INF = 1 << 60  # "never" / "no position": far above any time or cost sum
STOP_TIME, STOP_ITERATIONS, STOP_STALLED = 0, 1, 2  # why the search ended
STOP_NAMES = ("max_runtime", "max_iterations", "no_improvement")


@dataclass(frozen=True)
class SisrResult:
    """The best solution found. ``cost`` is its objective: the routes' costs as the checker
    computes them (fixed costs included) plus the penalty of every unassigned task."""

    routes: tuple[RoutePlan, ...]
    unassigned: tuple[int, ...]  # task indices it could not insert
    cost: int  # objective value in problem cost units (route costs incl. fixed)
    iterations: int
    seconds: float
    stopped_by: str  # "max_runtime" | "max_iterations" | "no_improvement"


def unsupported(problem: Problem) -> str:
    """Why the heuristic cannot model this problem ("" when it can): a break on a vehicle
    without a start location or with a ``max_load``, or planned step times (``service_at``
    / ``_after`` / ``_before`` on a vehicle's steps)."""
    for v in problem.vehicles:
        if v.breaks and v.start is None:
            return f"vehicle {v.id} has breaks but no start location"
        if any(b.max_load is not None for b in v.breaks):
            return f"vehicle {v.id} has a break with a max_load"
        for s in v.steps:
            if (s.service_at, s.service_after, s.service_before) != (None, None, None):
                return f"vehicle {v.id} has steps with planned times"
    return ""


def supports(problem: Problem) -> bool:
    """True when :func:`unsupported` finds nothing."""
    return not unsupported(problem)


_WARM = False


def warm_up() -> None:
    """Load the compiled kernels (compiling them on first use) by solving a tiny problem
    that takes every code path: jobs, shipments, several windows, travel and distance
    limits. Once per process; ``codist warm-up`` does it at install time."""
    global _WARM
    if _WARM:
        return
    b = ProblemBuilder(n_dims=1)
    b.set_matrix("car", [[0, 5, 7], [5, 0, 3], [7, 3, 0]])
    b.add_job(id=1, location=1, where="jobs[0]", delivery=[1], time_windows=[[0, 5], [9, 99]])
    b.add_job(id=2, location=2, where="jobs[1]", pickup=[1], setup=1, service=2)
    b.add_shipment(
        where="shipments[0]",
        amount=[1],
        pickup={"id": 1, "location": 1},
        delivery={"id": 1, "location": 2},
    )
    for k in range(2):
        b.add_vehicle(
            id=k, where=f"vehicles[{k}]", start=0, end=0, capacity=[3],
            max_travel_time=100, max_distance=100, costs={"fixed": 10},
        )  # fmt: skip
    improve(b.build(), MaxIterations(20))
    _WARM = True


# ---- random numbers (xorshift64*) and the clock --------------------------------------------
@njit(cache=True)
def _next(st: Any) -> Any:
    x = st[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    st[0] = x
    return x * np.uint64(0x2545F4914F6CDD1D)


@njit(cache=True)
def _rand(st: Any) -> Any:
    """Uniform in [0, 1)."""
    return float(_next(st) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _randint(st: Any, k: Any) -> Any:
    """Uniform in 0..k-1 (k >= 1)."""
    x = int(_rand(st) * k)
    return x if x < k else k - 1


@njit(cache=True)
def _now() -> Any:
    with numba.objmode(t="float64"):
        t = time.perf_counter()
    return t


# ---- time windows ----------------------------------------------------------------------------
@njit(cache=True)
def _begin(arrival: Any, tw_s: Any, tw_e: Any, a: Any, b: Any) -> Any:
    """Earliest start >= arrival inside windows a..b-1 (sorted), INF if none."""
    for w in range(a, b):
        if arrival <= tw_e[w]:
            s = tw_s[w]
            return s if s > arrival else arrival
    return INF


@njit(cache=True)
def _latest(bound: Any, tw_s: Any, tw_e: Any, a: Any, b: Any) -> Any:
    """Latest start <= bound inside windows a..b-1, -INF if none."""
    for w in range(b - 1, a - 1, -1):
        if tw_s[w] <= bound:
            e = tw_e[w]
            return e if e < bound else bound
    return -INF


# ---- one route's derived data ----------------------------------------------------------------
@njit(cache=True)
def _update_route(
    T: Any, tw_s: Any, tw_e: Any, t_init: Any, t_delta: Any, V: Any, dur: Any, cst: Any,
    dst: Any, r_len: Any, r_nodes: Any, r_loc: Any, r_dep: Any, r_lat: Any, r_nxt: Any,
    r_load: Any, r_fmax: Any, r_bmax: Any, r_cost: Any, r_trav: Any, r_dist: Any,
    t_route: Any, t_pos: Any, r: Any,
) -> None:  # fmt: skip
    """Locations, earliest departures, latest starts, loads and cost of route r.

    Positions: 0 = start, k = 1..len = node r_nodes[r, k-1] (a task or one of the
    vehicle's breaks), len+1 = end. A break is taken where the vehicle is: its location is
    its predecessor's, with no travel to it. r_dep: the departure from each position (at
    the end: the arrival); r_lat: the latest start of setup and service that keeps the rest
    feasible (at the end: the shift end); r_nxt: the location of the first task at or after
    each position (the end's location if none); r_load, r_fmax, r_bmax: the load after
    each position 0..len and its prefix / suffix maxima; r_trav, r_dist: the route's travel
    time (s) and distance (m) (unused: start to end).
    """
    ty = V[r, V_TYPE]
    n_dims = t_init.shape[1]
    ln = r_len[r]
    r_loc[r, 0] = V[r, V_START]
    for k in range(1, ln + 1):
        node = r_nodes[r, k - 1]
        r_loc[r, k] = r_loc[r, k - 1] if T[node, T_KIND] == KIND_BREAK else T[node, T_LOC]
        t_route[node] = r
        t_pos[node] = k
    r_loc[r, ln + 1] = V[r, V_END]
    r_nxt[r, ln + 1] = V[r, V_END]
    for k in range(ln, 0, -1):
        brk = T[r_nodes[r, k - 1], T_KIND] == KIND_BREAK
        r_nxt[r, k] = r_nxt[r, k + 1] if brk else r_loc[r, k]
    r_nxt[r, 0] = r_nxt[r, 1] if ln > 0 else V[r, V_END]
    dep = V[r, V_TWS]
    r_dep[r, 0] = dep
    cost = 0
    trav = 0
    dist = 0
    for k in range(1, ln + 1):
        node = r_nodes[r, k - 1]
        if T[node, T_KIND] == KIND_BREAK:
            b = _begin(dep, tw_s, tw_e, T[node, T_TW0], T[node, T_TW1])
            dep = INF if b >= INF else b + T[node, T_SERV]
            r_dep[r, k] = dep
            continue
        pl = r_loc[r, k - 1]
        lc = r_loc[r, k]
        b = _begin(dep + dur[ty, pl, lc], tw_s, tw_e, T[node, T_TW0], T[node, T_TW1])
        dep = INF if b >= INF else b + T[node, T_SERV] + (T[node, T_SETUP] if pl != lc else 0)
        r_dep[r, k] = dep
        cost += cst[ty, pl, lc]
        trav += dur[ty, pl, lc]
        dist += dst[ty, pl, lc]
    last_l, end_l = r_loc[r, ln], r_loc[r, ln + 1]
    r_dep[r, ln + 1] = min(dep + dur[ty, last_l, end_l], INF)
    cost += cst[ty, last_l, end_l]
    # an unused vehicle costs nothing; its travel is what it drives once used (start to end)
    r_cost[r] = cost + V[r, V_FIXED] if ln > V[r, V_NBRK] else 0
    r_trav[r] = trav + dur[ty, last_l, end_l]
    r_dist[r] = dist + dst[ty, last_l, end_l]
    lat = V[r, V_TWE]
    r_lat[r, ln + 1] = lat
    for k in range(ln, 0, -1):
        node = r_nodes[r, k - 1]
        lc = r_loc[r, k]
        setup = T[node, T_SETUP] if r_loc[r, k - 1] != lc else 0
        to_next = 0 if k < ln and T[r_nodes[r, k], T_KIND] == KIND_BREAK else 1
        bound = lat - to_next * dur[ty, lc, r_loc[r, k + 1]] - T[node, T_SERV] - setup
        lat = _latest(max(bound, -INF), tw_s, tw_e, T[node, T_TW0], T[node, T_TW1])
        r_lat[r, k] = lat
    r_lat[r, 0] = lat
    for d in range(n_dims):
        s = 0
        for k in range(ln):
            s += t_init[r_nodes[r, k], d]
        r_load[r, 0, d] = s
        for k in range(1, ln + 1):
            s += t_delta[r_nodes[r, k - 1], d]
            r_load[r, k, d] = s
        m = r_load[r, 0, d]
        for k in range(ln + 1):
            m = max(m, r_load[r, k, d])
            r_fmax[r, k, d] = m
        m = r_load[r, ln, d]
        for k in range(ln, -1, -1):
            m = max(m, r_load[r, k, d])
            r_bmax[r, k, d] = m


@njit(cache=True)
def _route_ok(
    T: Any, tw_s: Any, tw_e: Any, t_init: Any, allowed: Any, V: Any, v_cap: Any, dur: Any,
    r_len: Any, r_nodes: Any, r_loc: Any, r_load: Any, r_trav: Any, r_dist: Any,
    t_route: Any, t_pos: Any, r: Any,
) -> Any:  # fmt: skip
    """Route r checked from scratch (initial routes), after _update_route."""
    ln = r_len[r]
    ty = V[r, V_TYPE]
    ok = ln - V[r, V_NBRK] <= V[r, V_MAXT]
    ok = ok and r_trav[r] <= V[r, V_MAXDUR] and r_dist[r] <= V[r, V_MAXDIST]
    dep = V[r, V_TWS]
    for k in range(1, ln + 1):
        node = r_nodes[r, k - 1]
        partner = T[node, T_PARTNER]
        pair_ok = partner < 0 or (
            t_route[partner] == r and (T[node, T_KIND] != KIND_PICKUP or t_pos[partner] > k)
        )
        if not (allowed[node, r] and pair_ok):
            ok = False
        pl, lc = r_loc[r, k - 1], r_loc[r, k]
        if T[node, T_KIND] == KIND_BREAK:
            b = _begin(dep, tw_s, tw_e, T[node, T_TW0], T[node, T_TW1])
        else:
            b = _begin(dep + dur[ty, pl, lc], tw_s, tw_e, T[node, T_TW0], T[node, T_TW1])
        if b >= INF:
            ok = False
            break
        dep = b + T[node, T_SERV] + (T[node, T_SETUP] if pl != lc else 0)
    used = ln > V[r, V_NBRK]
    if ok and used and dep + dur[ty, r_loc[r, ln], r_loc[r, ln + 1]] > V[r, V_TWE]:
        ok = False
    for k in range(ln + 1):
        for d in range(t_init.shape[1]):
            if r_load[r, k, d] > v_cap[r, d]:
                ok = False
    return ok


@njit(cache=True)
def _tail_ok(
    T: Any, tw_s: Any, tw_e: Any, dur: Any, r_len: Any, r_nodes: Any, r_loc: Any, r_lat: Any,
    ty: Any, r: Any, dep: Any, loc: Any, k: Any,
) -> Any:  # fmt: skip
    """Can route r go on with its old positions k.. when it leaves location loc at time dep
    (a task inserted before old position k)? Breaks right after it are now taken at loc;
    the first task after them compares with its latest start, or, when its setup changes
    with its predecessor's location, is scheduled and the one after compared. A single
    exit (see the module's note on numba's reference counts); callers test the common
    case inline first."""
    ln = r_len[r]
    pos = k
    ok = True
    while pos <= ln and T[r_nodes[r, pos - 1], T_KIND] == KIND_BREAK:
        node = r_nodes[r, pos - 1]
        b = _begin(dep, tw_s, tw_e, T[node, T_TW0], T[node, T_TW1])
        if b >= INF:
            ok = False
            break
        dep = b + T[node, T_SERV]
        pos += 1
    if ok:
        lc = r_loc[r, pos]
        arr = dep + dur[ty, loc, lc]
        if pos > ln or (loc != lc) == (r_loc[r, pos - 1] != lc):
            ok = arr <= r_lat[r, pos]
        else:
            node = r_nodes[r, pos - 1]
            b = _begin(arr, tw_s, tw_e, T[node, T_TW0], T[node, T_TW1])
            if b >= INF:
                ok = False
            else:
                d = b + T[node, T_SERV] + (T[node, T_SETUP] if loc != lc else 0)
                to_next = 0 if pos < ln and T[r_nodes[r, pos], T_KIND] == KIND_BREAK else 1
                ok = d + to_next * dur[ty, lc, r_loc[r, pos + 1]] <= r_lat[r, pos + 1]
    return ok


# ---- insertion -------------------------------------------------------------------------------
@njit(cache=True)
def _best_job(
    T: Any, tw_s: Any, tw_e: Any, t_init: Any, t_delta: Any, allowed: Any, V: Any, v_cap: Any,
    dur: Any, cst: Any, dst: Any, r_len: Any, r_nodes: Any, r_loc: Any, r_dep: Any,
    r_lat: Any, r_nxt: Any, r_load: Any, r_fmax: Any, r_bmax: Any, r_trav: Any, r_dist: Any,
    j: Any, blink: Any, rng: Any, cls_stamp: Any,
) -> Any:  # fmt: skip
    """Cheapest feasible position of job j over all routes: (cost delta, route, position
    k = insert before old position k), route -1 if none. Every position that would be the
    new best is skipped with probability blink."""
    cls_stamp[0] += 1
    mark = cls_stamp[0]
    best: Any = np.int64(INF)
    best_r: Any = np.int64(-1)
    best_pos: Any = np.int64(-1)
    n_dims = t_init.shape[1]
    jl = T[j, T_LOC]
    js = T[j, T_SETUP]
    jv = T[j, T_SERV]
    a0 = T[j, T_TW0]
    a1 = T[j, T_TW1]
    last = tw_e[a1 - 1]
    for r in range(r_len.shape[0]):
        ln = r_len[r]
        nb = V[r, V_NBRK]
        if ln - nb + 1 > V[r, V_MAXT] or not allowed[j, r]:
            continue
        if ln == nb:  # one empty vehicle per class
            c = V[r, V_CLASS] + 1
            if cls_stamp[c] == mark:
                continue
            cls_stamp[c] = mark
        ty = V[r, V_TYPE]
        # a vehicle's first task costs its fixed cost and the drive from its start to end
        extra = V[r, V_FIXED] + cst[ty, r_loc[r, 0], r_loc[r, ln + 1]] if ln == nb else 0
        trav_room = V[r, V_MAXDUR] - r_trav[r]
        dist_room = V[r, V_MAXDIST] - r_dist[r]
        for k in range(1, ln + 2):
            pl = r_loc[r, k - 1]
            nl = r_nxt[r, k]
            delta = cst[ty, pl, jl] + cst[ty, jl, nl] - cst[ty, pl, nl] + extra
            if delta >= best:
                continue
            if dur[ty, pl, jl] + dur[ty, jl, nl] - dur[ty, pl, nl] > trav_room:
                continue
            if dst[ty, pl, jl] + dst[ty, jl, nl] - dst[ty, pl, nl] > dist_room:
                continue
            dprev = r_dep[r, k - 1]
            if dprev > last:  # departures only grow along the route
                break
            b = _begin(dprev + dur[ty, pl, jl], tw_s, tw_e, a0, a1)
            if b >= INF:
                continue
            dj = b + jv + (js if pl != jl else 0)
            if k <= ln and T[r_nodes[r, k - 1], T_KIND] == KIND_BREAK:
                if not _tail_ok(
                    T, tw_s, tw_e, dur, r_len, r_nodes, r_loc, r_lat, ty, r, dj, jl, k
                ):  # fmt: skip
                    continue
            else:  # inline, the hot case: the next node is a task or the end
                arr = dj + dur[ty, jl, nl]
                if k <= ln and (pl != nl) != (jl != nl):
                    nn = r_nodes[r, k - 1]  # the successor's setup changes
                    bn = _begin(arr, tw_s, tw_e, T[nn, T_TW0], T[nn, T_TW1])
                    if bn >= INF:
                        continue
                    dn = bn + T[nn, T_SERV] + (T[nn, T_SETUP] if jl != nl else 0)
                    tn = dur[ty, nl, r_loc[r, k + 1]]
                    if k < ln and T[r_nodes[r, k], T_KIND] == KIND_BREAK:
                        tn = 0  # a break next: taken there, no travel to it
                    if dn + tn > r_lat[r, k + 1]:
                        continue
                elif arr > r_lat[r, k]:
                    continue
            ok = True
            for d in range(n_dims):
                cap = v_cap[r, d]
                ini = t_init[j, d]
                after = ini + t_delta[j, d]
                over = r_fmax[r, k - 1, d] + ini > cap or r_load[r, k - 1, d] + after > cap
                if over or (k <= ln and r_bmax[r, k, d] + after > cap):
                    ok = False
            if not ok:
                continue
            if blink > 0.0 and _rand(rng) < blink:
                continue
            best = delta
            best_r = r
            best_pos = k
    return best, best_r, best_pos


@njit(cache=True)
def _best_pair(
    T: Any, tw_s: Any, tw_e: Any, t_init: Any, t_delta: Any, allowed: Any, V: Any, v_cap: Any,
    dur: Any, cst: Any, dst: Any, r_len: Any, r_nodes: Any, r_loc: Any, r_dep: Any,
    r_lat: Any, r_nxt: Any, r_load: Any, r_fmax: Any, r_bmax: Any, r_trav: Any, r_dist: Any,
    p: Any, q: Any, blink: Any, rng: Any, cls_stamp: Any,
) -> Any:  # fmt: skip
    """Cheapest feasible insertion of pickup p before old position i and delivery q before
    old position j >= i of one route: (cost delta, route, i, j), route -1 if none."""
    cls_stamp[0] += 1
    mark = cls_stamp[0]
    best: Any = np.int64(INF)
    best_r: Any = np.int64(-1)
    best_i: Any = np.int64(-1)
    best_j: Any = np.int64(-1)
    n_dims = t_init.shape[1]
    pL = T[p, T_LOC]
    dL = T[q, T_LOC]
    p_last = tw_e[T[p, T_TW1] - 1]
    for r in range(r_len.shape[0]):
        ln = r_len[r]
        nb = V[r, V_NBRK]
        if ln - nb + 2 > V[r, V_MAXT] or not allowed[p, r] or not allowed[q, r]:
            continue
        if ln == nb:  # one empty vehicle per class
            c = V[r, V_CLASS] + 1
            if cls_stamp[c] == mark:
                continue
            cls_stamp[c] = mark
        ty = V[r, V_TYPE]
        # a vehicle's first task costs its fixed cost and the drive from its start to end
        extra = V[r, V_FIXED] + cst[ty, r_loc[r, 0], r_loc[r, ln + 1]] if ln == nb else 0
        trav_room = V[r, V_MAXDUR] - r_trav[r]
        dist_room = V[r, V_MAXDIST] - r_dist[r]
        for i in range(1, ln + 2):
            pl = r_loc[r, i - 1]
            nl = r_nxt[r, i]
            dprev = r_dep[r, i - 1]
            if dprev > p_last:
                break
            ok = True
            for d in range(n_dims):
                ini = t_init[p, d] + t_init[q, d]
                cap = v_cap[r, d]
                if (
                    r_fmax[r, i - 1, d] + ini > cap
                    or r_load[r, i - 1, d] + ini + t_delta[p, d] > cap
                ):
                    ok = False
            if not ok:
                continue
            b = _begin(dprev + dur[ty, pl, pL], tw_s, tw_e, T[p, T_TW0], T[p, T_TW1])
            if b >= INF:
                continue
            cur_dep = b + T[p, T_SERV] + (T[p, T_SETUP] if pl != pL else 0)
            cur_loc = pL
            c_in = cst[ty, pl, pL] + cst[ty, pL, nl] - cst[ty, pl, nl] + extra
            d_in = dur[ty, pl, pL] + dur[ty, pL, nl] - dur[ty, pl, nl]
            m_in = dst[ty, pl, pL] + dst[ty, pL, nl] - dst[ty, pl, nl]
            for j in range(i, ln + 2):
                sl = r_nxt[r, j]
                if j > i:
                    # the old node at position j-1 follows the pickup's shifted schedule; a
                    # task starting beyond its latest start can only get later
                    node = r_nodes[r, j - 2]
                    if T[node, T_KIND] == KIND_BREAK:  # taken where the vehicle is
                        bb = _begin(cur_dep, tw_s, tw_e, T[node, T_TW0], T[node, T_TW1])
                        if bb >= INF:
                            break
                        cur_dep = bb + T[node, T_SERV]
                    else:
                        ol = r_loc[r, j - 1]
                        arr = cur_dep + dur[ty, cur_loc, ol]
                        bb = _begin(arr, tw_s, tw_e, T[node, T_TW0], T[node, T_TW1])
                        if bb >= INF:
                            break
                        same_setup = (cur_loc != ol) == (r_loc[r, j - 2] != ol)
                        if same_setup and bb > r_lat[r, j - 1]:
                            break
                        setup = T[node, T_SETUP] if cur_loc != ol else 0
                        cur_dep = bb + T[node, T_SERV] + setup
                        cur_loc = ol
                    for d in range(n_dims):
                        ini = t_init[p, d] + t_init[q, d]
                        if r_load[r, j - 1, d] + ini + t_delta[p, d] > v_cap[r, d]:
                            ok = False
                    if not ok:
                        break
                    delta = c_in + cst[ty, cur_loc, dL] + cst[ty, dL, sl] - cst[ty, cur_loc, sl]
                    d_tr = d_in + dur[ty, cur_loc, dL] + dur[ty, dL, sl] - dur[ty, cur_loc, sl]
                    m_tr = m_in + dst[ty, cur_loc, dL] + dst[ty, dL, sl] - dst[ty, cur_loc, sl]
                else:
                    delta = cst[ty, pl, pL] + cst[ty, pL, dL] + cst[ty, dL, sl] - cst[ty, pl, sl]
                    delta += extra
                    d_tr = dur[ty, pl, pL] + dur[ty, pL, dL] + dur[ty, dL, sl] - dur[ty, pl, sl]
                    m_tr = dst[ty, pl, pL] + dst[ty, pL, dL] + dst[ty, dL, sl] - dst[ty, pl, sl]
                if delta >= best or d_tr > trav_room or m_tr > dist_room:
                    continue
                b2 = _begin(cur_dep + dur[ty, cur_loc, dL], tw_s, tw_e, T[q, T_TW0], T[q, T_TW1])
                if b2 >= INF:
                    continue
                d2 = b2 + T[q, T_SERV] + (T[q, T_SETUP] if cur_loc != dL else 0)
                if j <= ln and T[r_nodes[r, j - 1], T_KIND] == KIND_BREAK:
                    if not _tail_ok(
                        T, tw_s, tw_e, dur, r_len, r_nodes, r_loc, r_lat, ty, r, d2, dL, j
                    ):  # fmt: skip
                        continue
                else:  # inline, the hot case (no break next), as in _best_job
                    arr = d2 + dur[ty, dL, sl]
                    if j <= ln and (r_loc[r, j - 1] != sl) != (dL != sl):
                        nn = r_nodes[r, j - 1]  # the successor's setup changes
                        bn = _begin(arr, tw_s, tw_e, T[nn, T_TW0], T[nn, T_TW1])
                        if bn >= INF:
                            continue
                        dn = bn + T[nn, T_SERV] + (T[nn, T_SETUP] if dL != sl else 0)
                        tn = dur[ty, sl, r_loc[r, j + 1]]
                        if j < ln and T[r_nodes[r, j], T_KIND] == KIND_BREAK:
                            tn = 0  # a break next: taken there, no travel to it
                        if dn + tn > r_lat[r, j + 1]:
                            continue
                    elif arr > r_lat[r, j]:
                        continue
                if blink > 0.0 and _rand(rng) < blink:
                    continue
                best = delta
                best_r = r
                best_i = i
                best_j = j
    return best, best_r, best_i, best_j


@njit(cache=True)
def _insert_job(r_len: Any, r_nodes: Any, r: Any, j: Any, k: Any) -> None:
    """Job j before old position k of route r (derived data not updated)."""
    ln = r_len[r]
    for x in range(ln, k - 1, -1):
        r_nodes[r, x] = r_nodes[r, x - 1]
    r_nodes[r, k - 1] = j
    r_len[r] = ln + 1


@njit(cache=True)
def _insert_pair(r_len: Any, r_nodes: Any, r: Any, p: Any, q: Any, i: Any, j: Any) -> None:
    """Pickup p before old position i, delivery q before old position j >= i of route r."""
    ln = r_len[r]
    for x in range(ln - 1, j - 2, -1):
        r_nodes[r, x + 2] = r_nodes[r, x]
    r_nodes[r, j] = q
    for x in range(j - 2, i - 2, -1):
        r_nodes[r, x + 1] = r_nodes[r, x]
    r_nodes[r, i - 1] = p
    r_len[r] = ln + 2


# ---- ruin and recreate -----------------------------------------------------------------------
@njit(cache=True)
def _touch(r: Any, stamp: Any, r_stamp: Any, touched: Any, n_touched: Any) -> Any:
    """Record route r as changed in this iteration; returns the new count."""
    if r_stamp[r] != stamp:
        r_stamp[r] = stamp
        touched[n_touched] = r
        n_touched += 1
    return n_touched


@njit(cache=True)
def _ruin(
    P: Any,
    S: Any,
    prm: Any,
    rng: Any,
    stamp: Any,
    r_stamp: Any,
    touched: Any,
    n_touched: Any,
    rm_flag: Any,
) -> Any:
    """Remove strings around a random seed task (SISR's ruin); returns n_touched."""
    T, tw_s, tw_e, t_init, t_delta, _allowed, V, _v_cap, dur, cst, adj, _keys, dst = P
    (r_len, r_nodes, r_loc, r_dep, r_lat, r_nxt, r_load, r_fmax, r_bmax, r_cost, r_trav, r_dist,
     t_route, t_pos) = S  # fmt: skip
    avg_removed, max_string, split_rate, split_depth = prm[0], prm[1], prm[2], prm[3]
    n = adj.shape[0]  # the tasks (nodes n.. are breaks, which stay on their route)
    n_routed = 0
    n_routes = 0
    for r in range(r_len.shape[0]):
        if r_len[r] > V[r, V_NBRK]:
            n_routes += 1
            n_routed += r_len[r] - V[r, V_NBRK]
    if n_routed > 0:
        ls_max = min(max_string, n_routed / n_routes)
        ks_max = 4.0 * avg_removed / (1.0 + ls_max) - 1.0
        ks = int(1.0 + _rand(rng) * ks_max)
        seed = _randint(rng, n)
        while t_route[seed] < 0:
            seed = _randint(rng, n)
        ruined = 0
        for idx in range(-1, adj.shape[1]):
            c = seed if idx < 0 else adj[seed, idx]
            if ruined >= ks or c < 0:
                break
            r = t_route[c]
            if r < 0 or r_stamp[r] == stamp:
                continue
            ln = r_len[r]
            lt = min(int(1.0 + _rand(rng) * min(float(ln), ls_max)), ln)
            pos = t_pos[c] - 1
            if lt == ln or lt == 1 or _rand(rng) >= split_rate:  # a string
                lo = max(0, pos - lt + 1)
                hi = min(ln - lt, pos)
                s = lo + _randint(rng, hi - lo + 1)
                for x in range(s, s + lt):
                    rm_flag[r_nodes[r, x]] = T[r_nodes[r, x], T_KIND] != KIND_BREAK
            else:  # a split string: lt + m tasks, m of them (consecutive) kept
                m = 1
                while m < ln - lt and _rand(rng) > split_depth:
                    m += 1
                w = lt + m
                lo = max(0, pos - w + 1)
                hi = min(ln - w, pos)
                s = lo + _randint(rng, hi - lo + 1)
                kept = _randint(rng, w - m + 1)
                for x in range(w):
                    if x < kept or x >= kept + m:
                        rm_flag[r_nodes[r, s + x]] = T[r_nodes[r, s + x], T_KIND] != KIND_BREAK
            for x in range(ln):
                node = r_nodes[r, x]
                if rm_flag[node] and T[node, T_PARTNER] >= 0:
                    rm_flag[T[node, T_PARTNER]] = True
            kept_n = 0
            for x in range(ln):
                node = r_nodes[r, x]
                if rm_flag[node]:
                    rm_flag[node] = False
                    t_route[node] = -1
                    t_pos[node] = -1
                else:
                    r_nodes[r, kept_n] = node
                    kept_n += 1
            r_len[r] = kept_n
            _update_route(
                T, tw_s, tw_e, t_init, t_delta, V, dur, cst, dst, r_len, r_nodes, r_loc, r_dep,
                r_lat, r_nxt, r_load, r_fmax, r_bmax, r_cost, r_trav, r_dist, t_route, t_pos, r,
            )  # fmt: skip
            n_touched = _touch(r, stamp, r_stamp, touched, n_touched)
            ruined += 1
    return n_touched


@njit(cache=True)
def _recreate(
    P: Any,
    S: Any,
    prm: Any,
    rng: Any,
    stamp: Any,
    r_stamp: Any,
    touched: Any,
    n_touched: Any,
    cls_stamp: Any,
    units: Any,
    keyvals: Any,
) -> Any:
    """Greedy insertion with blinks of every unrouted job / shipment; returns n_touched."""
    T, tw_s, tw_e, t_init, t_delta, allowed, V, v_cap, dur, cst, _adj, keys, dst = P
    (r_len, r_nodes, r_loc, r_dep, r_lat, r_nxt, r_load, r_fmax, r_bmax, r_cost, r_trav, r_dist,
     t_route, t_pos) = S  # fmt: skip
    blink = prm[4]
    nu = 0
    for t in range(T.shape[0]):
        if t_route[t] < 0 and T[t, T_KIND] != KIND_DELIVERY and T[t, T_KIND] != KIND_BREAK:
            units[nu] = t
            nu += 1
    for x in range(nu - 1, 0, -1):
        y = _randint(rng, x + 1)
        units[x], units[y] = units[y], units[x]
    u = _rand(rng) * 11.0
    if u >= 4.0:  # else: the random order
        col = 0 if u < 8.0 else 1  # demand, else the distance from the depots
        sign = 1.0 if u >= 10.0 else -1.0  # close: ascending, else descending
        for x in range(nu):
            keyvals[x] = sign * keys[units[x], col]
        for x in range(1, nu):  # stable insertion sort: ties keep the random order
            kv = keyvals[x]
            ku = units[x]
            y = x - 1
            while y >= 0 and keyvals[y] > kv:
                keyvals[y + 1] = keyvals[y]
                units[y + 1] = units[y]
                y -= 1
            keyvals[y + 1] = kv
            units[y + 1] = ku
    for x in range(nu):
        t = units[x]
        r = -1
        if T[t, T_KIND] == KIND_PICKUP:
            partner = T[t, T_PARTNER]
            _, r, i, j = _best_pair(
                T, tw_s, tw_e, t_init, t_delta, allowed, V, v_cap, dur, cst, dst, r_len,
                r_nodes, r_loc, r_dep, r_lat, r_nxt, r_load, r_fmax, r_bmax, r_trav, r_dist, t,
                partner, blink, rng, cls_stamp,
            )  # fmt: skip
            if r >= 0:
                _insert_pair(r_len, r_nodes, r, t, partner, i, j)
        else:
            _, r, k = _best_job(
                T, tw_s, tw_e, t_init, t_delta, allowed, V, v_cap, dur, cst, dst, r_len,
                r_nodes, r_loc, r_dep, r_lat, r_nxt, r_load, r_fmax, r_bmax, r_trav, r_dist, t,
                blink, rng, cls_stamp,
            )  # fmt: skip
            if r >= 0:
                _insert_job(r_len, r_nodes, r, t, k)
        if r >= 0:
            _update_route(
                T, tw_s, tw_e, t_init, t_delta, V, dur, cst, dst, r_len, r_nodes, r_loc, r_dep,
                r_lat, r_nxt, r_load, r_fmax, r_bmax, r_cost, r_trav, r_dist, t_route, t_pos, r,
            )  # fmt: skip
            n_touched = _touch(r, stamp, r_stamp, touched, n_touched)
    return n_touched


@njit(cache=True)
def _swap_vehicle(
    P: Any, S: Any, rng: Any, stamp: Any, r_stamp: Any, touched: Any, n_touched: Any
) -> Any:
    """Move a whole route to an unused vehicle of another class (type, capacity, skills,
    costs ...), if it is feasible there: a move no string removal makes when the route is
    long (SISR removes at most ``l_s_max`` tasks of a route). Vehicles with breaks take no
    part. Returns n_touched."""
    T, tw_s, tw_e, t_init, t_delta, allowed, V, v_cap, dur, cst, _adj, _keys, dst = P
    (r_len, r_nodes, r_loc, r_dep, r_lat, r_nxt, r_load, r_fmax, r_bmax, r_cost, r_trav, r_dist,
     t_route, t_pos) = S  # fmt: skip
    m = r_len.shape[0]
    r = -1
    off = _randint(rng, m)
    for x in range(m):  # a random used route (vehicles without breaks)
        c = (off + x) % m
        if r_len[c] > 0 and V[c, V_NBRK] == 0:
            r = c
            break
    e = -1
    if r >= 0:
        off = _randint(rng, m)
        for x in range(m):  # a random unused vehicle of another class that may serve it all
            c = (off + x) % m
            if r_len[c] > 0 or V[c, V_NBRK] > 0 or V[c, V_CLASS] == V[r, V_CLASS]:
                continue
            able = r_len[r] <= r_nodes.shape[1]
            for y in range(r_len[r]):
                if not allowed[r_nodes[r, y], c]:
                    able = False
                    break
            if able:
                e = c
                break
    if e >= 0:
        ln = r_len[r]
        for y in range(ln):
            r_nodes[e, y] = r_nodes[r, y]
        r_len[e] = ln
        r_len[r] = 0
        for v in (r, e):
            _update_route(
                T, tw_s, tw_e, t_init, t_delta, V, dur, cst, dst, r_len, r_nodes, r_loc, r_dep,
                r_lat, r_nxt, r_load, r_fmax, r_bmax, r_cost, r_trav, r_dist, t_route, t_pos, v,
            )  # fmt: skip
        if _route_ok(
            T, tw_s, tw_e, t_init, allowed, V, v_cap, dur, r_len, r_nodes, r_loc, r_load,
            r_trav, r_dist, t_route, t_pos, e,
        ):  # fmt: skip
            n_touched = _touch(r, stamp, r_stamp, touched, n_touched)
            n_touched = _touch(e, stamp, r_stamp, touched, n_touched)
        else:  # infeasible there: back as it was
            for y in range(ln):
                r_nodes[r, y] = r_nodes[e, y]
            r_len[r] = ln
            r_len[e] = 0
            for v in (e, r):
                _update_route(
                    T, tw_s, tw_e, t_init, t_delta, V, dur, cst, dst, r_len, r_nodes, r_loc,
                    r_dep, r_lat, r_nxt, r_load, r_fmax, r_bmax, r_cost, r_trav, r_dist,
                    t_route, t_pos, v,
                )  # fmt: skip
    return n_touched


@njit(cache=True)
def _objective(T: Any, r_cost: Any, t_route: Any) -> Any:
    """Route costs (fixed included) plus the penalties of the unassigned tasks."""
    total = 0
    for r in range(r_cost.shape[0]):
        total += r_cost[r]
    for t in range(T.shape[0]):
        if t_route[t] < 0:
            total += T[t, T_PEN]
    return total


@njit(cache=True)
def _save(r_len: Any, r_nodes: Any, r: Any, to_len: Any, to_nodes: Any) -> None:
    to_len[r] = r_len[r]
    for x in range(r_len[r]):
        to_nodes[r, x] = r_nodes[r, x]


# ---- the search ------------------------------------------------------------------------------
@njit(cache=True)
def _search(
    P: Any,
    S: Any,
    prm: Any,
    rng: Any,
    best_len: Any,
    best_nodes: Any,
    t_end: Any,
    max_iter: Any,
    max_stall: Any,
) -> Any:
    """Build a first solution (the feasible routes given in S, then recreate), then
    ruin-and-recreate under simulated annealing until t_end, max_iter iterations or
    max_stall iterations without a new best (< 0: no such limit). The best routes go to
    best_*. Returns (iterations, best objective, why it stopped: STOP_*)."""
    T, tw_s, tw_e, t_init, t_delta, allowed, V, v_cap, dur, cst, _adj, _keys, dst = P
    (r_len, r_nodes, r_loc, r_dep, r_lat, r_nxt, r_load, r_fmax, r_bmax, r_cost, r_trav, r_dist,
     t_route, t_pos) = S  # fmt: skip
    n = T.shape[0]
    m = r_len.shape[0]
    t0, tf = prm[5], prm[6]
    touched = np.empty(m, np.int64)
    r_stamp = np.zeros(m, np.int64)
    cls_stamp = np.zeros(V[:, V_CLASS].max() + 2, np.int64)  # [0]: insertion counter
    units = np.empty(n, np.int64)
    keyvals = np.empty(n, np.float64)
    rm_flag = np.zeros(n, np.bool_)
    cur_len = np.zeros(m, np.int64)
    cur_nodes = np.zeros_like(r_nodes)

    # the first solution: the given routes that are feasible, then insert everything else
    for r in range(m):
        _update_route(
            T, tw_s, tw_e, t_init, t_delta, V, dur, cst, dst, r_len, r_nodes, r_loc, r_dep,
            r_lat, r_nxt, r_load, r_fmax, r_bmax, r_cost, r_trav, r_dist, t_route, t_pos, r,
        )  # fmt: skip
    for r in range(m):
        if not _route_ok(
            T, tw_s, tw_e, t_init, allowed, V, v_cap, dur, r_len, r_nodes, r_loc, r_load,
            r_trav, r_dist, t_route, t_pos, r,
        ):  # fmt: skip
            for x in range(r_len[r]):
                t_route[r_nodes[r, x]] = -1
                t_pos[r_nodes[r, x]] = -1
            r_len[r] = V[r, V_NBRK]  # its breaks only, in their order
            for x in range(r_len[r]):
                r_nodes[r, x] = V[r, V_BRK0] + x
            _update_route(
                T, tw_s, tw_e, t_init, t_delta, V, dur, cst, dst, r_len, r_nodes, r_loc, r_dep,
                r_lat, r_nxt, r_load, r_fmax, r_bmax, r_cost, r_trav, r_dist, t_route, t_pos, r,
            )  # fmt: skip
    stamp = np.int64(1)
    zero = np.int64(0)
    _recreate(P, S, prm, rng, stamp, r_stamp, touched, zero, cls_stamp, units, keyvals)
    for r in range(m):
        _save(r_len, r_nodes, r, cur_len, cur_nodes)
        _save(r_len, r_nodes, r, best_len, best_nodes)
    cur_obj = _objective(T, r_cost, t_route)
    best_obj = cur_obj

    it = np.int64(0)
    last_best = np.int64(0)
    reason = STOP_ITERATIONS
    t_start = _now()
    now = t_start
    span = max(t_end - t_start, 1e-9)
    frac = 0.0
    stride = 1  # iterations between clock reads, adapted to about CLOCK_EVERY seconds
    next_check = np.int64(0)
    while max_iter < 0 or it < max_iter:
        if max_stall >= 0 and it - last_best >= max_stall:
            reason = STOP_STALLED
            break
        if max_iter >= 0:
            frac = it / max(max_iter, 1)
        if it >= next_check:
            last = now
            now = _now()
            if now >= t_end:
                reason = STOP_TIME
                break
            if now - last < 0.5 * CLOCK_EVERY and stride < 1024:
                stride *= 2
            elif now - last > 2.0 * CLOCK_EVERY and stride > 1:
                stride //= 2
            next_check = it + stride
            if max_iter < 0:
                frac = (now - t_start) / span
        temp = t0 * (tf / t0) ** frac
        stamp += 1
        if prm[7] > 0.0 and _rand(rng) < prm[7]:
            n_t = _swap_vehicle(P, S, rng, stamp, r_stamp, touched, zero)
        else:
            n_t = _ruin(P, S, prm, rng, stamp, r_stamp, touched, zero, rm_flag)
            n_t = _recreate(
                P, S, prm, rng, stamp, r_stamp, touched, n_t, cls_stamp, units, keyvals
            )  # fmt: skip
        obj = _objective(T, r_cost, t_route)
        if obj < cur_obj - temp * math.log(1.0 - _rand(rng)):
            for x in range(n_t):
                _save(r_len, r_nodes, touched[x], cur_len, cur_nodes)
            cur_obj = obj
            if obj < best_obj:
                best_obj = obj
                last_best = it
                for r in range(m):
                    _save(r_len, r_nodes, r, best_len, best_nodes)
        else:  # back to the current solution: every task of a changed route is placed anew
            for x in range(n_t):
                r = touched[x]
                for y in range(r_len[r]):
                    t_route[r_nodes[r, y]] = -1
                    t_pos[r_nodes[r, y]] = -1
            for x in range(n_t):
                r = touched[x]
                _save(cur_len, cur_nodes, r, r_len, r_nodes)
                _update_route(
                    T, tw_s, tw_e, t_init, t_delta, V, dur, cst, dst, r_len, r_nodes, r_loc, r_dep,
                    r_lat, r_nxt, r_load, r_fmax, r_bmax, r_cost, r_trav, r_dist, t_route, t_pos, r,
                )  # fmt: skip
        it += 1
    return it, best_obj, reason


# ---- flattening ------------------------------------------------------------------------------
_TypeKey = tuple[str, float, int, int]  # a vehicle type: (profile, speed_factor, per_hour, per_km)


def _flatten(problem: Problem, tasks: list[int]) -> tuple[np.ndarray, ...]:
    """The problem restricted to ``tasks`` (internal index k = tasks[k]) as the kernels'
    arrays: (T, tw_s, tw_e, t_init, t_delta, allowed, V, v_cap, dur, cst, adj, keys, dst)."""
    n = len(tasks)
    used, loc_of = _locations(problem, tasks)
    n_loc = len(used)
    type_of, dur, cst, dst, max_arc = _type_matrices(problem, np.asarray(used, dtype=np.int64))
    base = max(v.fixed_cost for v in problem.vehicles) + 2 * max_arc + 1
    V, v_cap, n_breaks = _vehicle_rows(problem, n, n_loc, loc_of, type_of)
    T, tw_s, tw_e, t_init, t_delta, allowed, demand = _task_rows(
        problem, tasks, loc_of, n_loc, base, v_cap, n_breaks
    )
    metric, adj = _neighbours(cst, dur, T[:n, T_LOC], n_loc)
    keys = _order_keys(problem, metric, T[:n, T_LOC], loc_of, demand)
    return T, tw_s, tw_e, t_init, t_delta, allowed, V, v_cap, dur, cst, adj, keys, dst


def _locations(problem: Problem, tasks: list[int]) -> tuple[list[int], dict[int, int]]:
    """Compact locations: the sorted problem locations of the tasks and of the vehicles'
    starts and ends, and each one's compact index (index ``len(used)`` = none, no travel)."""
    used: list[int] = sorted(
        {problem.tasks[t].location for t in tasks}
        | {x for v in problem.vehicles for x in (v.start, v.end) if x is not None}
    )
    return used, {x: k for k, x in enumerate(used)}


def _type_matrices(
    problem: Problem, idx: np.ndarray
) -> tuple[dict[_TypeKey, int], np.ndarray, np.ndarray, np.ndarray, int]:
    """Per vehicle type, over the compact locations ``idx`` plus a last "none" row and column
    of zeros: travel durations (s), integer arc costs and distances (m), stacked in type
    order; with each type's index and a bound above the largest arc cost (cost units)."""
    n_loc = len(idx)
    type_of: dict[_TypeKey, int] = {}
    durs: list[np.ndarray] = []
    costs: list[np.ndarray] = []
    dists: list[np.ndarray] = []
    max_arc = 0
    for v in problem.vehicles:
        key = (v.profile, v.speed_factor, v.per_hour, v.per_km)
        if key in type_of:
            continue
        type_of[key] = len(durs)
        dur_full, dist_full = problem.travel(v)
        d = np.zeros((n_loc + 1, n_loc + 1), np.int64)
        c = np.zeros((n_loc + 1, n_loc + 1), np.int64)
        g = np.zeros((n_loc + 1, n_loc + 1), np.int64)
        if n_loc:
            sub_d = dur_full[np.ix_(idx, idx)].astype(np.int64)
            sub_m = dist_full[np.ix_(idx, idx)].astype(np.int64)
            d[:n_loc, :n_loc] = sub_d
            g[:n_loc, :n_loc] = sub_m
            c[:n_loc, :n_loc] = np.rint(v.per_hour * sub_d / 3600 + v.per_km * sub_m / 1000)
            arc = v.per_hour * sub_d.max() / 3600 + v.per_km * sub_m.max() / 1000
            max_arc = max(max_arc, int(arc) + 1)
        durs.append(d)
        costs.append(c)
        dists.append(g)
    dur = np.ascontiguousarray(np.stack(durs))
    cst = np.ascontiguousarray(np.stack(costs))
    dst = np.ascontiguousarray(np.stack(dists))
    return type_of, dur, cst, dst, max_arc


def _vehicle_rows(
    problem: Problem,
    n: int,
    n_loc: int,
    loc_of: dict[int, int],
    type_of: dict[_TypeKey, int],
) -> tuple[np.ndarray, np.ndarray, int]:
    """(V, v_cap, number of breaks): each vehicle's V_* columns (shift in s, limits in s and
    m, its class of identical vehicles, its breaks' first node after the ``n`` task nodes)
    and its capacity per dimension."""
    class_of: dict[tuple[Any, ...], int] = {}
    n_breaks = 0
    V = np.zeros((len(problem.vehicles), N_VCOL), np.int64)
    v_cap = np.zeros((len(problem.vehicles), max(problem.n_dims, 1)), np.int64)
    for v in problem.vehicles:
        maxt = n if v.max_tasks is None else min(v.max_tasks, n)
        ty = type_of[(v.profile, v.speed_factor, v.per_hour, v.per_km)]
        start = n_loc if v.start is None else loc_of[v.start]
        end = n_loc if v.end is None else loc_of[v.end]
        ckey = (
            ty,
            start,
            end,
            v.time_window,
            v.capacity,
            v.fixed_cost,
            maxt,
            v.skills,
            v.max_travel_time,
            v.max_distance,
            tuple((b.service_s, b.time_windows) for b in v.breaks),
        )
        cls = class_of.setdefault(ckey, len(class_of))
        V[v.index] = (
            ty,
            start,
            end,
            v.time_window.start,
            v.time_window.end,
            v.fixed_cost,
            maxt,
            cls,
            INF if v.max_travel_time is None else v.max_travel_time,
            INF if v.max_distance is None else v.max_distance,
            len(v.breaks),
            n + n_breaks,
        )
        n_breaks += len(v.breaks)
        if problem.n_dims:
            v_cap[v.index] = v.capacity
    return V, v_cap, n_breaks


def _task_rows(
    problem: Problem,
    tasks: list[int],
    loc_of: dict[int, int],
    n_loc: int,
    base: int,
    v_cap: np.ndarray,
    n_breaks: int,
) -> tuple[np.ndarray, ...]:
    """(T, tw_s, tw_e, t_init, t_delta, allowed, demand) for the nodes: the tasks, then every
    vehicle's breaks (nodes n.., allowed on their vehicle only). T_PEN is the unassigned
    penalty (cost units) from ``base``; windows (s) are flattened into tw_s/tw_e; loads are
    per dimension; ``demand`` is a task's need summed over dimensions relative to the
    largest capacity of each."""
    n = len(tasks)
    vehicles = problem.vehicles
    n_dims = max(problem.n_dims, 1)
    internal = {t: k for k, t in enumerate(tasks)}
    n_all = n + n_breaks
    T = np.zeros((n_all, N_TCOL), np.int64)
    t_init = np.zeros((n_all, n_dims), np.int64)
    t_delta = np.zeros((n_all, n_dims), np.int64)
    allowed = np.zeros((n_all, len(vehicles)), np.bool_)
    tw_s_l: list[int] = []
    tw_e_l: list[int] = []
    demand = np.zeros(n, np.float64)
    cap_scale = np.maximum(v_cap.max(axis=0), 1).astype(np.float64)
    amounts = problem.shipment_amounts()
    for k, t in enumerate(tasks):
        task = problem.tasks[t]
        partner = -1
        kind = KIND_JOB
        if task.kind != "job":
            s = problem.shipments[task.shipment]
            other = s.delivery if task.kind == "pickup" else s.pickup
            if other not in internal:
                raise ValueError(f"task {t} is given without its shipment partner {other}")
            partner = internal[other]
            kind = KIND_PICKUP if task.kind == "pickup" else KIND_DELIVERY
        a0 = len(tw_s_l)
        for w in task.time_windows:
            tw_s_l.append(w.start)
            tw_e_l.append(w.end)
        penalty = base * (1 + task.priority * (n + 1))
        T[k] = (
            loc_of[task.location],
            task.setup_s,
            task.service_s,
            a0,
            len(tw_s_l),
            partner,
            kind,
            penalty,
        )
        if problem.n_dims:
            if kind == KIND_JOB:
                t_init[k] = task.delivery
                t_delta[k] = np.asarray(task.pickup) - np.asarray(task.delivery)
                need = np.maximum(task.delivery, task.pickup)
            else:
                amount = np.asarray(amounts[task.shipment], np.int64)
                t_delta[k] = amount if kind == KIND_PICKUP else -amount
                need = amount
            demand[k] = float((need / cap_scale).sum())
        for v in vehicles:
            allowed[k, v.index] = v.can_serve(task)
    node = n
    for v in vehicles:
        for b in v.breaks:
            a0 = len(tw_s_l)
            for w in b.time_windows:
                tw_s_l.append(w.start)
                tw_e_l.append(w.end)
            T[node] = (n_loc, 0, b.service_s, a0, len(tw_s_l), -1, KIND_BREAK, 0)
            allowed[node, v.index] = True
            node += 1
    tw_s = np.asarray(tw_s_l, np.int64)
    tw_e = np.asarray(tw_e_l, np.int64)
    return T, tw_s, tw_e, t_init, t_delta, allowed, demand


def _neighbours(
    cst: np.ndarray, dur: np.ndarray, t_locs: np.ndarray, n_loc: int
) -> tuple[np.ndarray, np.ndarray]:
    """(metric, adj): the symmetric location metric (integer costs, or durations in s if
    every cost is 0, summed over vehicle types both ways) and each task's up to
    N_NEIGHBOURS nearest other tasks by it, nearest first (-1 pads)."""
    n = len(t_locs)
    metric = (cst + cst.transpose(0, 2, 1)).sum(axis=0).astype(np.float64)
    if not metric[:n_loc, :n_loc].any():
        metric = (dur + dur.transpose(0, 2, 1)).sum(axis=0).astype(np.float64)
    n_nb = min(N_NEIGHBOURS, n - 1)
    adj = np.full((n, max(n_nb, 1)), -1, np.int64)
    if n_nb > 0:
        for lo in range(0, n, 256):
            rows = np.arange(lo, min(n, lo + 256))
            block = metric[np.ix_(t_locs[rows], t_locs)]
            block[np.arange(len(rows)), rows] = np.inf  # not its own neighbour
            part = np.argpartition(block, n_nb - 1, axis=1)[:, :n_nb]
            vals = np.take_along_axis(block, part, axis=1)
            order = np.lexsort((part, vals), axis=1)
            adj[rows, :n_nb] = np.take_along_axis(part, order, axis=1)
    return metric, adj


def _order_keys(
    problem: Problem,
    metric: np.ndarray,
    t_locs: np.ndarray,
    loc_of: dict[int, int],
    demand: np.ndarray,
) -> np.ndarray:
    """The recreate orders' sort keys per task, as columns: relative demand, and the metric
    to the nearest depot (a vehicle's start, else its end; 0 when no vehicle has either)."""
    depots = sorted(
        {
            loc_of[x]
            for v in problem.vehicles
            for x in ((v.start,) if v.start is not None else (v.end,))
            if x is not None
        }
    )
    n = len(t_locs)
    depot_dist = metric[np.ix_(t_locs, np.asarray(depots))].min(axis=1) if depots else np.zeros(n)
    return np.ascontiguousarray(np.stack([demand, depot_dist], axis=1))


def _mean_arc(P: tuple[np.ndarray, ...]) -> float:
    """Mean cost of the arcs between distinct task locations, over the vehicle types
    (arcs marked unreachable left out; a sample of 400 locations for large problems)."""
    T, dur, cst = P[0], P[8], P[9]
    locs = np.unique(T[T[:, T_KIND] != KIND_BREAK, T_LOC])
    if len(locs) > 400:
        locs = locs[np.linspace(0, len(locs) - 1, 400).astype(np.int64)]
    sub = cst[:, locs][:, :, locs].astype(np.float64)
    keep = dur[:, locs][:, :, locs] < UNREACHABLE
    keep[:, np.arange(len(locs)), np.arange(len(locs))] = False
    return float(sub[keep].mean()) if keep.any() else 0.0


def _seed_state(seed: int) -> np.ndarray:
    """xorshift state from a seed (splitmix64), never 0."""
    z = (seed * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z ^= z >> 31
    return np.array([z or 0x2545F4914F6CDD1D], dtype=np.uint64)


def _route_cost(problem: Problem, plan: RoutePlan) -> int:
    """The checker's cost of a route (VROOM formula on the route's travel)."""
    v = problem.vehicles[plan.vehicle]
    dur, dist = problem.travel(v)
    locs = [problem.tasks[s.ref].location for s in plan.steps if s.kind != "break"]
    if not locs:
        return 0
    path = ([] if v.start is None else [v.start]) + locs + ([] if v.end is None else [v.end])
    a, b = np.asarray(path[:-1], np.int64), np.asarray(path[1:], np.int64)
    return problem.route_cost(v, int(dur[a, b].sum()), int(dist[a, b].sum()))


def improve(
    problem: Problem,
    stop: StoppingCriterion,
    seed: int = 0,
    *,
    tasks: Sequence[int] | None = None,
    initial: Sequence[RoutePlan] | None = None,
) -> SisrResult:
    """Ruin-and-recreate search from scratch (or from initial routes) on the given tasks
    (default: all) until ``stop`` says so (:mod:`routing.stop`).

    The first solution is always completed. The cooling schedule runs over the iteration
    bound when ``stop`` has one (then the result is the same for a seed on any machine),
    else over the runtime bound; a ``NoImprovement`` bound ends a converged search early.
    Initial routes that break a constraint are dropped (their tasks are inserted anew);
    tasks outside ``tasks`` are ignored in them. A shipment's two tasks must be given
    together. Raises ``ValueError`` for a problem :func:`supports` rejects, or a ``stop``
    with no runtime or iteration bound (the search would never end).
    """
    started = time.perf_counter()
    if not supports(problem):
        raise ValueError(f"SISR does not model this problem: {unsupported(problem)}")
    bounds = stop.bounds()
    if bounds.seconds is None and bounds.iterations is None:
        raise ValueError("the stopping criterion needs a runtime or an iteration bound")
    task_list = list(range(len(problem.tasks))) if tasks is None else sorted(set(tasks))
    if not task_list:
        return SisrResult((), (), 0, 0, time.perf_counter() - started, "max_iterations")
    P = _flatten(problem, task_list)
    T, V = P[0], P[6]
    n, m = len(task_list), len(problem.vehicles)
    width = max(1, int((V[:, V_MAXT] + V[:, V_NBRK]).max()))
    r_len, r_nodes = _first_routes(V, task_list, width, initial)
    S = _route_state(r_len, r_nodes, T.shape[0], P[3].shape[1])
    best_len = np.zeros(m, np.int64)
    best_nodes = np.zeros((m, width), np.int64)
    iterations, _, reason = _search(
        P,
        S,
        _parameters(P),
        _seed_state(seed),
        best_len,
        best_nodes,
        started + (1e12 if bounds.seconds is None else bounds.seconds),
        -1 if bounds.iterations is None else bounds.iterations,
        -1 if bounds.stalled is None else bounds.stalled,
    )
    routes = _route_plans(problem, task_list, V, best_len, best_nodes)
    routed = {s.ref for r in routes for s in r.steps if s.kind != "break"}
    unassigned = tuple(t for t in task_list if t not in routed)
    pen = {task_list[k]: int(T[k, T_PEN]) for k in range(n)}
    cost = sum(_route_cost(problem, r) for r in routes) + sum(pen[t] for t in unassigned)
    return SisrResult(
        routes=tuple(routes),
        unassigned=unassigned,
        cost=cost,
        iterations=int(iterations),
        seconds=time.perf_counter() - started,
        stopped_by=STOP_NAMES[int(reason)],
    )


def _first_routes(
    V: np.ndarray, task_list: list[int], width: int, initial: Sequence[RoutePlan] | None
) -> tuple[np.ndarray, np.ndarray]:
    """(r_len, r_nodes): each vehicle's starting node sequence. An initial route keeps its
    tasks among ``task_list`` (internal nodes, each once over all routes) and its breaks in
    the given order, the breaks it omits appended; a route with no such task, a second route
    for a vehicle or one longer than ``width`` is ignored. Every other vehicle gets its
    breaks only. Raises ``ValueError`` for an initial route of an unknown vehicle."""
    m, n = V.shape[0], len(task_list)
    r_len = np.zeros(m, np.int64)
    r_nodes = np.zeros((m, width), np.int64)
    given = [False] * m
    if initial:
        internal = {t: k for k, t in enumerate(task_list)}
        seen: set[int] = set()
        for plan in initial:
            if not 0 <= plan.vehicle < m:
                raise ValueError(f"initial route of vehicle index {plan.vehicle}: no such vehicle")
            v = plan.vehicle
            nb, b0 = int(V[v, V_NBRK]), int(V[v, V_BRK0])
            nodes: list[int] = []
            for s in plan.steps:
                if s.kind in ("job", "pickup", "delivery") and s.ref in internal:
                    if internal[s.ref] not in seen and internal[s.ref] not in nodes:
                        nodes.append(internal[s.ref])
                elif s.kind == "break" and 0 <= s.ref < nb and b0 + s.ref not in nodes:
                    nodes.append(b0 + s.ref)
            nodes += [b0 + k for k in range(nb) if b0 + k not in nodes]  # breaks not given
            if given[v] or len(nodes) == nb or len(nodes) > width:
                continue
            seen.update(x for x in nodes if x < n)
            given[v] = True
            r_len[v] = len(nodes)
            r_nodes[v, : len(nodes)] = nodes
    for v in range(m):  # every other vehicle starts with its breaks only
        if not given[v]:
            r_len[v] = V[v, V_NBRK]
            r_nodes[v, : r_len[v]] = np.arange(V[v, V_NBRK]) + V[v, V_BRK0]
    return r_len, r_nodes


def _route_state(
    r_len: np.ndarray, r_nodes: np.ndarray, n_nodes: int, n_dims: int
) -> tuple[np.ndarray, ...]:
    """The kernels' route state S around the starting routes: per-position schedule and load
    arrays, per-route cost (cost units), travel (s) and distance (m), and each node's route
    and position (-1: unrouted), all zero until ``_search`` computes them."""
    m, width = r_nodes.shape
    return (
        r_len,
        r_nodes,
        np.zeros((m, width + 2), np.int64),  # r_loc
        np.zeros((m, width + 2), np.int64),  # r_dep
        np.zeros((m, width + 2), np.int64),  # r_lat
        np.zeros((m, width + 2), np.int64),  # r_nxt
        np.zeros((m, width + 1, n_dims), np.int64),  # r_load
        np.zeros((m, width + 1, n_dims), np.int64),  # r_fmax
        np.zeros((m, width + 1, n_dims), np.int64),  # r_bmax
        np.zeros(m, np.int64),  # r_cost
        np.zeros(m, np.int64),  # r_trav
        np.zeros(m, np.int64),  # r_dist
        np.full(n_nodes, -1, np.int64),  # t_route
        np.full(n_nodes, -1, np.int64),  # t_pos
    )


def _parameters(P: tuple[np.ndarray, ...]) -> np.ndarray:
    """The search parameters prm: the paper's ruin and blink sizes, the start and final
    temperatures (cost units, relative to the mean arc cost) and the vehicle swap rate (0
    with a single vehicle class)."""
    V = P[6]
    arc = max(_mean_arc(P), 1e-6)
    return np.array(
        [
            AVG_REMOVED,
            MAX_STRING,
            SPLIT_RATE,
            SPLIT_DEPTH,
            BLINK_RATE,
            T0_PER_ARC * arc,
            TF_PER_ARC * arc,
            SWAP_RATE if len(np.unique(V[:, V_CLASS])) > 1 else 0.0,  # one class: none
        ],
        dtype=np.float64,
    )


def _route_plans(
    problem: Problem,
    task_list: list[int],
    V: np.ndarray,
    best_len: np.ndarray,
    best_nodes: np.ndarray,
) -> list[RoutePlan]:
    """The routes with at least one task of the kernels' best solution, in vehicle order,
    as task and break steps of problem indices."""
    n = len(task_list)
    routes = []
    for v in range(len(best_len)):
        nodes = [int(x) for x in best_nodes[v, : best_len[v]]]
        if any(x < n for x in nodes):
            steps = tuple(
                Step(problem.tasks[task_list[x]].kind, task_list[x])
                if x < n
                else Step("break", x - int(V[v, V_BRK0]))
                for x in nodes
            )
            routes.append(RoutePlan(v, steps))
    return routes
