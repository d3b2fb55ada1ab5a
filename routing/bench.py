"""Readers for published routing benchmarks, and a runner that scores a solver on them.

Four file formats are read into a :class:`BenchInstance` holding an integer
:class:`~routing.model.Problem` (profile ``"car"``) plus the instance's coordinates, so that
a solution can be scored in the set's *own* distance convention:

``.vrptw`` (LKH-3 CVRPTW, the Solomon set)
    ``FLOOR_2D`` with ``SCALE s``: matrix entry = ``floor(s * euclid)`` (computed exactly
    in integers for integral coordinates); time windows and service times are multiplied
    by ``s``; travel time equals distance. ``cost()`` = sum of ``floor(s * euclid) / s``.
Classic Solomon / Gehring-Homberger ``.txt`` (``VEHICLE`` / ``CUSTOMER`` blocks)
    The same convention as the LKH-3 Solomon files: scale 10, ``floor(10 * euclid)``,
    times x10, travel time = distance, cost = sum of ``floor(10 * euclid) / 10``.
Li & Lim PDPTW ``.txt`` (``vehicles capacity speed`` line, then 9-column task rows)
    Real Euclidean distances, modelled at scale 100: durations = ``ceil(100 * euclid)``
    (conservative: a schedule feasible in integers is feasible in reals), distances =
    ``round(100 * euclid)``, windows and service x100. The speed column is ignored (the
    files carry 0 or 1 there; every published result uses travel time = distance).
    ``cost()`` = the real (double) Euclidean sum.
VRPLIB ``.vrp`` CVRP (``EUC_2D``, the X set)
    Matrix = ``nint(euclid)`` (scale 1), no time windows, durations = distances.

Ids: jobs keep the file's node / customer number (LKH-3 and VRPLIB node ids are 1-based
with the depot usually node 1, so X customer ``c`` of a ``.sol`` file is job ``c + 1``);
Li & Lim pickups and deliveries keep their task numbers. Location 0 is the depot, then one
location per task in file order; ``coords[i]`` is location ``i``'s ``(x, y)``.

Fleet and costs: VRPTW / PDPTW use the file's vehicle count (or the ``vehicles`` argument),
each with the file's capacity, the depot's time window, start = end = depot. CVRP fleets are
unlimited in the set's convention: the ``vehicles`` argument, the file's ``VEHICLES`` key if
any, else ``k + max(3, ceil(0.1 k))`` with ``k = ceil(total demand / capacity)``. Every
vehicle has ``per_km = 1000, per_hour = 0``, so a route's cost is its distance in matrix
units. For the hierarchical objective (Li & Lim: fewest vehicles, then distance) every
vehicle also has a fixed cost larger than the distance of *any* solution: the sum of every
location's largest outgoing distance plus ``n_vehicles`` times the depot's largest one, + 1
(each task location is left once, the depot once per route).
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routing.errors import InputError
from routing.model import Problem, ProblemBuilder
from routing.solution import RoutePlan, Solution

KINDS = ("vrptw", "pdptw", "cvrp")
PROFILE = "car"
_TASK_STEPS = ("job", "pickup", "delivery")
_COST_DECIMALS = {"vrptw": 2, "pdptw": 4, "cvrp": 2}


# ---- exact integer distance conventions ---------------------------------------------------
def _isqrt(n: np.ndarray) -> np.ndarray:
    """Elementwise ``floor(sqrt(n))`` of non-negative int64, exact."""
    r = np.floor(np.sqrt(n.astype(np.float64))).astype(np.int64)
    while True:
        over = r * r > n
        under = (r + 1) * (r + 1) <= n
        if not (over.any() or under.any()):
            return r
        r = r - over + under


def _scaled(a: np.ndarray, b: np.ndarray, scale: int, mode: str) -> np.ndarray:
    """``mode`` ("floor" | "ceil" | "round") of ``scale * euclid(a, b)``, row-wise pairs.

    Exact in integers when the coordinates are integral; floating point otherwise.
    """
    d = a - b
    if np.all(d == np.rint(d)) and np.abs(d).max(initial=0) < 2**20:
        di = np.rint(d).astype(np.int64)
        n = (di[..., 0] ** 2 + di[..., 1] ** 2) * (scale * scale)
        r = _isqrt(n)
        rest = n - r * r
        if mode == "floor":
            return r
        if mode == "ceil":
            return r + (rest > 0)
        return r + (rest > r)  # sqrt(n) >= r + 1/2  <=>  n >= r^2 + r + 1/4
    e = scale * np.hypot(d[..., 0], d[..., 1])
    fn = {"floor": np.floor, "ceil": np.ceil, "round": np.rint}[mode]
    return fn(e).astype(np.int64)


def _matrix(coords: np.ndarray, scale: int, mode: str) -> np.ndarray:
    return _scaled(coords[:, None, :], coords[None, :, :], scale, mode)


# ---- the instance -------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchInstance:
    """A benchmark instance: the integer problem and what scores it in its own convention."""

    name: str  # file name without extension
    kind: str  # "vrptw" | "pdptw" | "cvrp"
    problem: Problem
    scale: int  # integer matrix units per instance distance unit
    coords: np.ndarray  # [n_loc, 2] x, y of each matrix location
    objective: str  # "distance" | "vehicles_then_distance"

    def route_locations(self, route: RoutePlan) -> list[int]:
        """Location indices of a route: start, its task stops, end (start/end if set)."""
        vehicle = self.problem.vehicles[route.vehicle]
        stops = [self.problem.tasks[s.ref].location for s in route.steps if s.kind in _TASK_STEPS]
        if not stops:
            return []
        head = [] if vehicle.start is None else [vehicle.start]
        tail = [] if vehicle.end is None else [vehicle.end]
        return head + stops + tail

    def cost(self, routes: Sequence[RoutePlan]) -> float:
        """Total distance in the set's own convention, recomputed from the coordinates.

        Solomon: sum of ``floor(scale * euclid) / scale``; Li & Lim: real Euclidean sum;
        X: sum of ``nint(euclid)``. Depot -> first stop, between stops, last stop -> depot;
        routes without a task cost nothing.
        """
        total_units = 0
        total_real = 0.0
        for route in routes:
            locs = self.route_locations(route)
            if len(locs) < 2:
                continue
            idx = np.asarray(locs)
            a, b = self.coords[idx[:-1]], self.coords[idx[1:]]
            if self.kind == "pdptw":
                total_real += math.fsum(float(x) for x in np.hypot(*(a - b).T))
            elif self.kind == "vrptw":
                total_units += int(_scaled(a, b, self.scale, "floor").sum())
            else:
                total_units += int(_scaled(a, b, 1, "round").sum())
        if self.kind == "pdptw":
            return total_real
        return total_units / self.scale if self.kind == "vrptw" else float(total_units)


# ---- reading ------------------------------------------------------------------------------
class _Lines:
    """The file's non-blank lines as (line number, tokens)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_text(encoding="utf-8-sig", errors="strict")
        except UnicodeDecodeError:
            raise InputError("file", f"{path.name} is not a text file") from None
        except OSError as exc:
            raise InputError("file", f"cannot read {path}: {exc.strerror}") from None
        self.rows = [
            (k, line.split()) for k, line in enumerate(text.splitlines(), start=1) if line.strip()
        ]
        if not self.rows:
            raise InputError("file", f"{path.name} is empty")

    def error(self, line: int | None, reason: str) -> InputError:
        where = f"{self.path.name} line {line}" if line is not None else self.path.name
        return InputError("file", f"{where}: {reason}")

    def numbers(self, line: int, tokens: Sequence[str], count: int, what: str) -> list[float]:
        if len(tokens) != count:
            raise self.error(line, f"expected {count} numbers ({what}), got {len(tokens)}")
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            raise self.error(line, f"expected numbers ({what}), got {' '.join(tokens)!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise self.error(line, f"numbers must be finite ({what})")
        return values

    def integer(self, line: int | None, value: float, what: str, minimum: int | None = 0) -> int:
        if value != int(value):
            raise self.error(line, f"{what} must be an integer, got {value:g}")
        if minimum is not None and value < minimum:
            raise self.error(line, f"{what} must be >= {minimum}, got {value:g}")
        return int(value)


def _detect(lines: _Lines) -> str:
    """The format, ``"tsplib" | "solomon" | "lilim"``, from the content (then extension)."""
    head = " ".join(" ".join(t) for _, t in lines.rows[:12]).upper()
    if "NODE_COORD_SECTION" in head or re.search(r"\b(TYPE|DIMENSION)\s*:", head):
        return "tsplib"
    if any(t and t[0].upper() == "NODE_COORD_SECTION" for _, t in lines.rows):
        return "tsplib"
    if "VEHICLE" in head and "CUSTOMER" in head:
        return "solomon"
    number = re.compile(r"-?\d+(\.\d*)?")
    shapes = [len(t) if all(number.fullmatch(x) for x in t) else -1 for _, t in lines.rows[:3]]
    if shapes[0] == 3 or shapes[1:2] == [9]:
        return "lilim"
    suffix = lines.path.suffix.lower()
    if suffix in (".vrp", ".vrptw"):
        return "tsplib"
    raise lines.error(
        None,
        "unrecognised format (expected LKH-3 .vrptw, VRPLIB .vrp, Solomon .txt or Li & Lim .txt)",
    )


def read_instance(path: Path, vehicles: int | None = None) -> BenchInstance:
    """Read a benchmark file, detecting its format from the content (see the module doc).

    ``vehicles`` overrides the fleet size. Malformed files raise ``InputError("file", ...)``
    naming the line where possible.
    """
    path = Path(path)
    if vehicles is not None and (isinstance(vehicles, bool) or vehicles < 1):
        raise InputError("vehicles", f"must be a positive integer, got {vehicles!r}")
    lines = _Lines(path)
    fmt = _detect(lines)
    if fmt == "tsplib":
        return _read_tsplib(lines, vehicles)
    if fmt == "solomon":
        return _read_solomon(lines, vehicles)
    return _read_lilim(lines, vehicles)


@dataclass
class _Node:
    id: int
    line: int
    x: float
    y: float
    demand: int = 0
    ready: float = 0.0
    due: float | None = None
    service: float = 0.0


_SECTIONS = (
    "NODE_COORD_SECTION",
    "DEMAND_SECTION",
    "TIME_WINDOW_SECTION",
    "SERVICE_TIME_SECTION",
    "DEPOT_SECTION",
)


_Keys = dict[str, tuple[int, str]]  # header key -> (line number, value text)
_Sections = dict[str, list[tuple[int, list[str]]]]  # section name -> its (line, tokens) rows


def _read_tsplib(lines: _Lines, vehicles: int | None) -> BenchInstance:
    """An LKH-3 CVRPTW (``FLOOR_2D``) or VRPLIB CVRP (``EUC_2D``) file as an instance."""
    keys, sections = _tsplib_parts(lines)
    kind = _tsplib_kind(lines, keys)
    dimension = _key_int(lines, keys, "DIMENSION", minimum=2)
    capacity = _key_int(lines, keys, "CAPACITY", minimum=1)
    scale = _key_int(lines, keys, "SCALE", "1", minimum=1) if kind == "vrptw" else 1
    service_all = _key_num(lines, keys, "SERVICE_TIME", "0")[1] if kind == "vrptw" else 0.0
    fleet = vehicles
    if fleet is None and "VEHICLES" in keys:
        fleet = _key_int(lines, keys, "VEHICLES", minimum=1)

    required = ["NODE_COORD_SECTION", "DEMAND_SECTION", "DEPOT_SECTION"]
    if kind == "vrptw":
        required.append("TIME_WINDOW_SECTION")
    for name in required:
        if name not in sections:
            raise lines.error(None, f"missing {name}")

    nodes = _tsplib_nodes(lines, sections, dimension, service_all)
    depot = _tsplib_depot(lines, sections, nodes)
    customers = [n for n in nodes.values() if n is not depot]
    name = lines.path.stem
    if kind == "vrptw":
        return _build_vrptw(lines, name, depot, customers, capacity, fleet, scale)
    return _build_cvrp(lines, name, depot, customers, capacity, fleet)


def _tsplib_parts(lines: _Lines) -> tuple[_Keys, _Sections]:
    """The file's ``KEY : value`` header entries and the rows of each data section (up to
    ``EOF``); rejects unknown or repeated sections and lines outside any section."""
    keys: _Keys = {}
    sections: _Sections = {}
    current: str | None = None
    for line, tokens in lines.rows:
        word = tokens[0].upper().rstrip(":")
        if word == "EOF":
            break
        if word in _SECTIONS:
            if word in sections:
                raise lines.error(line, f"{word} appears twice")
            current = word
            sections[word] = []
            continue
        if word.endswith("_SECTION"):
            raise lines.error(line, f"unsupported section {word}")
        joined = " ".join(tokens)
        m = re.fullmatch(r"([A-Za-z_]+)\s*:\s*(.*)", joined)
        if m and not re.fullmatch(r"-?\d+", tokens[0]):
            keys[m.group(1).upper()] = (line, m.group(2).strip().strip('"'))
            current = None
            continue
        if current is None:
            raise lines.error(line, f"unexpected line {joined!r} outside any section")
        sections[current].append((line, tokens))
    return keys, sections


def _key(
    lines: _Lines, keys: _Keys, name: str, default: str | None = None
) -> tuple[int | None, str]:
    """(line, text) of a header key; (None, default) when absent, an error without default."""
    if name in keys:
        return keys[name]
    if default is None:
        raise lines.error(None, f"missing {name}")
    return None, default


def _key_num(
    lines: _Lines, keys: _Keys, name: str, default: str | None = None
) -> tuple[int | None, float]:
    """(line, value) of a header key that must be a finite number >= 0."""
    line, text = _key(lines, keys, name, default)
    try:
        value = float(text)
    except ValueError:
        raise lines.error(line, f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise lines.error(line, f"{name} must be a finite number >= 0, got {text!r}")
    return line, value


def _key_int(
    lines: _Lines, keys: _Keys, name: str, default: str | None = None, minimum: int = 0
) -> int:
    """A header key that must be an integer >= minimum."""
    line, value = _key_num(lines, keys, name, default)
    return lines.integer(line, value, name, minimum)


def _tsplib_kind(lines: _Lines, keys: _Keys) -> str:
    """``"vrptw"`` (TYPE CVRPTW/VRPTW, FLOOR_2D) or ``"cvrp"`` (TYPE CVRP, EUC_2D); any other
    TYPE or edge weight type is an error."""
    problem_type = _key(lines, keys, "TYPE")[1].upper()
    if problem_type in ("CVRPTW", "VRPTW"):
        kind = "vrptw"
    elif problem_type == "CVRP":
        kind = "cvrp"
    else:
        raise lines.error(keys["TYPE"][0], f"TYPE {problem_type!r} is not CVRPTW or CVRP")
    ew_line, edge_type = _key(lines, keys, "EDGE_WEIGHT_TYPE")
    edge_type = edge_type.upper()
    wanted = "FLOOR_2D" if kind == "vrptw" else "EUC_2D"
    if edge_type != wanted:
        raise lines.error(
            ew_line, f"EDGE_WEIGHT_TYPE {edge_type} (a {problem_type} file must use {wanted})"
        )
    return kind


def _tsplib_nodes(
    lines: _Lines, sections: _Sections, dimension: int, service_all: float
) -> dict[int, _Node]:
    """The nodes by id: coordinates, then demand, time window and service time (file units)
    from their sections; every node gets ``service_all`` unless SERVICE_TIME_SECTION says."""
    nodes: dict[int, _Node] = {}
    for line, tokens in sections["NODE_COORD_SECTION"]:
        nid, x, y = lines.numbers(line, tokens, 3, "id x y")
        node_id = lines.integer(line, nid, "node id", 1)
        if node_id in nodes:
            raise lines.error(line, f"node {node_id} listed twice in NODE_COORD_SECTION")
        nodes[node_id] = _Node(node_id, line, x, y, service=service_all)
    if len(nodes) != dimension:
        raise lines.error(
            sections["NODE_COORD_SECTION"][-1][0] if nodes else None,
            f"DIMENSION is {dimension} but NODE_COORD_SECTION has {len(nodes)} nodes",
        )

    def each(section: str, count: int, what: str) -> Iterator[tuple[int, _Node, list[float]]]:
        return _node_rows(lines, sections, nodes, dimension, section, count, what)

    for line, node, (d,) in each("DEMAND_SECTION", 2, "id demand"):
        node.demand = lines.integer(line, d, f"demand of node {node.id}")
    for line, node, (ready, due) in each("TIME_WINDOW_SECTION", 3, "id ready due"):
        if ready < 0 or due < ready:
            raise lines.error(line, f"bad time window [{ready:g}, {due:g}] of node {node.id}")
        node.ready, node.due = ready, due
    for line, node, (s,) in each("SERVICE_TIME_SECTION", 2, "id service"):
        if s < 0:
            raise lines.error(line, f"negative service time of node {node.id}")
        node.service = s
    return nodes


def _node_rows(
    lines: _Lines,
    sections: _Sections,
    nodes: Mapping[int, _Node],
    dimension: int,
    section: str,
    count: int,
    what: str,
) -> Iterator[tuple[int, _Node, list[float]]]:
    """(line, node, values after the id) of each row of a per-node section; each node must
    appear exactly once when the section is present."""
    seen: set[int] = set()
    for line, tokens in sections.get(section, []):
        values = lines.numbers(line, tokens, count, what)
        node_id = lines.integer(line, values[0], "node id", 1)
        if node_id not in nodes:
            raise lines.error(line, f"node {node_id} is not in NODE_COORD_SECTION")
        if node_id in seen:
            raise lines.error(line, f"node {node_id} listed twice in {section}")
        seen.add(node_id)
        yield line, nodes[node_id], values[1:]
    if section in sections and len(seen) != dimension:
        missing = sorted(set(nodes) - seen)[:5]
        raise lines.error(None, f"{section} misses node(s) {missing}")


def _tsplib_depot(lines: _Lines, sections: _Sections, nodes: Mapping[int, _Node]) -> _Node:
    """The single depot listed in DEPOT_SECTION (ids up to the terminating -1)."""
    depots = []
    for line, tokens in sections["DEPOT_SECTION"]:
        (value,) = lines.numbers(line, tokens[:1], 1, "depot id")
        if value == -1:
            break
        depot_id = lines.integer(line, value, "depot id", 1)
        if depot_id not in nodes:
            raise lines.error(line, f"depot {depot_id} is not in NODE_COORD_SECTION")
        depots.append(depot_id)
    if len(depots) != 1:
        raise lines.error(
            sections["DEPOT_SECTION"][0][0] if sections["DEPOT_SECTION"] else None,
            f"exactly one depot is supported, got {len(depots)}",
        )
    return nodes[depots[0]]


def _read_solomon(lines: _Lines, vehicles: int | None) -> BenchInstance:
    rows = lines.rows
    k = 0
    while k < len(rows) and rows[k][1][0].upper() != "NUMBER":
        k += 1
    if k + 1 >= len(rows):
        raise lines.error(None, "missing the VEHICLE NUMBER CAPACITY block")
    line, tokens = rows[k + 1]
    n_veh, cap = lines.numbers(line, tokens, 2, "vehicle number, capacity")
    fleet = lines.integer(line, n_veh, "vehicle number", 1)
    capacity = lines.integer(line, cap, "capacity", 1)
    k += 2
    while k < len(rows) and rows[k][1][0].upper() != "CUST":
        k += 1
    if k >= len(rows):
        raise lines.error(None, "missing the CUSTOMER table (CUST NO. XCOORD. ...)")
    nodes: list[_Node] = []
    seen: set[int] = set()
    for line, tokens in rows[k + 1 :]:
        what = "cust no, x, y, demand, ready time, due date, service time"
        cid, x, y, demand, ready, due, service = lines.numbers(line, tokens, 7, what)
        node_id = lines.integer(line, cid, "customer number")
        if node_id in seen:
            raise lines.error(line, f"customer {node_id} listed twice")
        seen.add(node_id)
        if ready < 0 or due < ready:
            raise lines.error(line, f"bad time window [{ready:g}, {due:g}]")
        if service < 0:
            raise lines.error(line, "negative service time")
        node = _Node(node_id, line, x, y, lines.integer(line, demand, "demand"), ready, due)
        node.service = service
        nodes.append(node)
    if len(nodes) < 2:
        raise lines.error(None, "the CUSTOMER table needs the depot and at least one customer")
    return _build_vrptw(
        lines, lines.path.stem, nodes[0], nodes[1:], capacity, vehicles or fleet, 10
    )


def _times(values: Sequence[float], scale: int, what: str, lines: _Lines, line: int) -> list[int]:
    out = []
    for v in values:
        scaled = v * scale
        if abs(scaled - round(scaled)) > 1e-6:
            raise lines.error(line, f"{what} {v:g} is not a multiple of 1/{scale}")
        out.append(round(scaled))
    return out


def _new_builder(name: str, kind: str, objective: str, scale: int) -> ProblemBuilder:
    builder = ProblemBuilder(n_dims=1)
    builder.meta.update({"benchmark": name, "kind": kind, "objective": objective, "scale": scale})
    return builder


def _add_fleet(
    builder: ProblemBuilder,
    n: int,
    capacity: int,
    window: tuple[int, int] | None,
    fixed: int,
) -> None:
    for v in range(n):
        builder.add_vehicle(
            id=v + 1,
            where=f"vehicles[{v}]",
            profile=PROFILE,
            start=0,
            end=0,
            capacity=[capacity],
            time_window=None if window is None else list(window),
            costs={"fixed": fixed, "per_hour": 0, "per_km": 1000},
        )


def _build_vrptw(
    lines: _Lines,
    name: str,
    depot: _Node,
    customers: Sequence[_Node],
    capacity: int,
    fleet: int | None,
    scale: int,
) -> BenchInstance:
    if fleet is None:
        raise lines.error(None, "the file gives no vehicle count (pass vehicles=)")
    nodes = [depot, *customers]
    coords = np.array([[n.x, n.y] for n in nodes], dtype=np.float64)
    dist = _matrix(coords, scale, "floor")
    builder = _new_builder(name, "vrptw", "distance", scale)
    builder.set_matrix(PROFILE, dist, dist)
    if depot.due is None:
        raise lines.error(depot.line, "the depot has no time window")
    d_ready, d_due = _times([depot.ready, depot.due], scale, "depot window", lines, depot.line)
    for k, n in enumerate(customers, start=1):
        if n.due is None:
            raise lines.error(n.line, f"node {n.id} has no time window")
        ready, due, service = _times([n.ready, n.due, n.service], scale, "time", lines, n.line)
        builder.add_job(
            id=n.id,
            location=k,
            where=f"jobs[{k - 1}]",
            delivery=[n.demand],
            service=service,
            time_windows=[[ready, due]],
        )
    _add_fleet(builder, fleet, capacity, (d_ready, d_due), 0)
    return BenchInstance(name, "vrptw", builder.build(), scale, coords, "distance")


def _build_cvrp(
    lines: _Lines,
    name: str,
    depot: _Node,
    customers: Sequence[_Node],
    capacity: int,
    fleet: int | None,
) -> BenchInstance:
    nodes = [depot, *customers]
    coords = np.array([[n.x, n.y] for n in nodes], dtype=np.float64)
    dist = _matrix(coords, 1, "round")
    builder = _new_builder(name, "cvrp", "distance", 1)
    builder.set_matrix(PROFILE, dist, dist)
    for k, n in enumerate(customers, start=1):
        builder.add_job(id=n.id, location=k, where=f"jobs[{k - 1}]", delivery=[n.demand])
    if fleet is None:
        fleet = default_cvrp_fleet(sum(n.demand for n in customers), capacity)
    _add_fleet(builder, fleet, capacity, None, 0)
    return BenchInstance(name, "cvrp", builder.build(), 1, coords, "distance")


def default_cvrp_fleet(total_demand: int, capacity: int) -> int:
    """``k + max(3, ceil(0.1 k))`` vehicles, ``k = ceil(total_demand / capacity)``."""
    k = max(1, -(-total_demand // capacity))
    return k + max(3, math.ceil(0.1 * k))


def _read_lilim(lines: _Lines, vehicles: int | None) -> BenchInstance:
    scale = 100
    line, tokens = lines.rows[0]
    n_veh, cap, _speed = lines.numbers(line, tokens, 3, "vehicles capacity speed")
    fleet = vehicles or lines.integer(line, n_veh, "vehicle count", 1)
    capacity = lines.integer(line, cap, "capacity", 1)
    what = "id x y demand earliest latest service pickup delivery"
    rows: dict[int, tuple[int, list[float]]] = {}
    order: list[int] = []
    for line, tokens in lines.rows[1:]:
        values = lines.numbers(line, tokens, 9, what)
        tid = lines.integer(line, values[0], "task id")
        if tid in rows:
            raise lines.error(line, f"task {tid} listed twice")
        if values[4] < 0 or values[5] < values[4]:
            raise lines.error(line, f"bad time window [{values[4]:g}, {values[5]:g}]")
        if values[6] < 0:
            raise lines.error(line, "negative service time")
        rows[tid] = (line, values)
        order.append(tid)
    if not order:
        raise lines.error(None, "no task rows")
    depot_id = order[0]
    depot_line, depot_row = rows[depot_id]
    if depot_id != 0 or depot_row[3] != 0 or depot_row[7] != 0 or depot_row[8] != 0:
        raise lines.error(
            depot_line, "the first task must be the depot: id 0, no demand or siblings"
        )
    location = {tid: k for k, tid in enumerate(order)}
    pairs: list[tuple[int, int]] = []
    for tid in order[1:]:
        line, row = rows[tid]
        demand = lines.integer(line, row[3], "demand", None)
        pick = lines.integer(line, row[7], "pickup sibling")
        deliv = lines.integer(line, row[8], "delivery sibling")
        if deliv and not pick:  # a pickup
            if deliv not in rows or deliv == 0:
                raise lines.error(line, f"pickup {tid}: delivery sibling {deliv} is not a task")
            dline, drow = rows[deliv]
            if int(drow[7]) != tid or drow[8] != 0:
                raise lines.error(dline, f"delivery {deliv} does not name pickup {tid}")
            if demand < 0 or drow[3] != -demand:
                raise lines.error(
                    dline,
                    f"delivery {deliv} demand {drow[3]:g} is not the "
                    f"opposite of pickup {tid}'s {demand}",
                )
            pairs.append((tid, deliv))
        elif pick and not deliv:  # a delivery, checked from its pickup
            if pick not in rows or pick == 0:
                raise lines.error(line, f"delivery {tid}: pickup sibling {pick} is not a task")
            if int(rows[pick][1][8]) != tid:
                raise lines.error(line, f"pickup {pick} does not name delivery {tid}")
        else:
            raise lines.error(
                line, f"task {tid} must have exactly one sibling (pickup or delivery)"
            )

    coords = np.array([[rows[t][1][1], rows[t][1][2]] for t in order], dtype=np.float64)
    durations = _matrix(coords, scale, "ceil")
    distances = _matrix(coords, scale, "round")
    name = lines.path.stem
    builder = _new_builder(name, "pdptw", "vehicles_then_distance", scale)
    builder.set_matrix(PROFILE, durations, distances)

    def spec(tid: int) -> dict[str, Any]:
        line, row = rows[tid]
        ready, due, service = _times(row[4:7], scale, "time", lines, line)
        return {
            "id": tid,
            "location": location[tid],
            "service": service,
            "time_windows": [[ready, due]],
        }

    for k, (p, d) in enumerate(pairs):
        builder.add_shipment(
            where=f"shipments[{k}]",
            amount=[int(rows[p][1][3])],
            pickup=spec(p),
            delivery=spec(d),
        )
    window = _times(depot_row[4:6], scale, "depot window", lines, depot_line)
    fixed = hierarchical_fixed_cost(distances, fleet)
    _add_fleet(builder, fleet, capacity, (window[0], window[1]), fixed)
    return BenchInstance(name, "pdptw", builder.build(), scale, coords, "vehicles_then_distance")


def hierarchical_fixed_cost(distances: np.ndarray, n_vehicles: int, depot: int = 0) -> int:
    """A per-vehicle fixed cost above the total distance of any solution (see module doc)."""
    row_max = distances.max(axis=1)
    return int(row_max.sum()) + n_vehicles * int(row_max[depot]) + 1


# ---- best-known values --------------------------------------------------------------------
_BKS_VEHICLES = ("vehicles", "bks_vehicles", "routes")
_BKS_COST = ("cost", "bks_distance", "distance", "bks_cost")


def read_bks(path: Path) -> dict[str, tuple[int | None, float]]:
    """Best-known values from a CSV: ``instance -> (vehicles or None, cost)``.

    Columns ``instance,vehicles,cost`` (``vehicles`` optional or empty); also read:
    ``bks_vehicles,bks_distance`` and ``routes,distance``. Lines starting with ``#`` and
    extra columns are ignored.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("bks", f"cannot read {path}: {exc}") from None
    rows = [
        (k, line)
        for k, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not rows:
        raise InputError("bks", f"{path.name} is empty")
    header_line, header = rows[0]
    columns = [c.strip().lower() for c in next(csv.reader([header]))]

    def find(names: Sequence[str]) -> int | None:
        return next((columns.index(n) for n in names if n in columns), None)

    i_inst, i_veh, i_cost = find(("instance", "name")), find(_BKS_VEHICLES), find(_BKS_COST)
    if i_inst is None or i_cost is None:
        raise InputError(
            "bks",
            f"{path.name} line {header_line}: needs columns instance and cost "
            f"(or {'/'.join(_BKS_COST[1:])}), got {columns}",
        )
    out: dict[str, tuple[int | None, float]] = {}
    for line, raw in rows[1:]:
        cells = [c.strip() for c in next(csv.reader([raw]))]
        where = f"{path.name} line {line}"
        if len(cells) <= max(i_inst, i_cost, i_veh or 0):
            raise InputError("bks", f"{where}: expected {len(columns)} columns")
        try:
            cost = float(cells[i_cost])
            veh = int(cells[i_veh]) if i_veh is not None and cells[i_veh] else None
        except ValueError:
            raise InputError("bks", f"{where}: bad number in {raw.strip()!r}") from None
        if not math.isfinite(cost) or cost < 0 or (veh is not None and veh < 0):
            raise InputError("bks", f"{where}: values must be finite and >= 0")
        if not cells[i_inst]:
            raise InputError("bks", f"{where}: empty instance name")
        out[cells[i_inst]] = (veh, cost)
    return out


def _lookup(
    bks: Mapping[str, tuple[int | None, float]], name: str
) -> tuple[int | None, float] | None:
    if name in bks:
        return bks[name]
    lowered = {k.lower(): v for k, v in bks.items()}
    return lowered.get(name.lower())


# ---- running ------------------------------------------------------------------------------
def run_bench(
    paths: Sequence[Path],
    time_limit: float,
    seed: int,
    bks: Mapping[str, tuple[int | None, float]] | None,
    solve: Callable[[Problem, float, int], Solution],
    check: Callable[[Problem, Sequence[RoutePlan], Sequence[int]], Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Solve each instance and score it in its set's convention, one dict per instance.

    Keys: ``instance, cost, vehicles, feasible, seconds`` and, when a best-known value is
    known (names matched exactly, then case-insensitively), ``bks, bks_vehicles, gap_pct``
    with ``gap_pct = 100 * (cost - bks) / bks``. ``feasible``: every task is routed exactly
    once and ``check(problem, routes, unassigned)`` (if given) reports ``.feasible``.
    ``seconds`` is the wall time of ``solve`` alone.
    """
    for path in paths:
        inst = read_instance(Path(path))
        problem = inst.problem
        t0 = time.perf_counter()
        solution = solve(problem, time_limit, seed)
        seconds = time.perf_counter() - t0
        routes = [r for r in solution.routes if any(s.kind in _TASK_STEPS for s in r.steps)]
        served = [s.ref for r in routes for s in r.steps if s.kind in _TASK_STEPS]
        unassigned = [u.task for u in solution.unassigned]
        feasible = (
            not unassigned
            and len(served) == len(problem.tasks)
            and set(served) == set(range(len(problem.tasks)))
        )
        if check is not None:
            report = check(problem, solution.routes, unassigned)
            feasible = feasible and bool(report.feasible)
        decimals = _COST_DECIMALS[inst.kind]
        cost = round(inst.cost(routes), decimals)
        row: dict[str, Any] = {
            "instance": inst.name,
            "cost": cost,
            "vehicles": len(routes),
            "feasible": feasible,
            "seconds": round(seconds, 2),
        }
        known = _lookup(bks, inst.name) if bks else None
        if known is not None:
            bks_vehicles, bks_cost = known
            row["bks"] = bks_cost
            row["bks_vehicles"] = bks_vehicles
            row["gap_pct"] = round(100 * (cost - bks_cost) / bks_cost, 2) if bks_cost > 0 else None
        yield row
