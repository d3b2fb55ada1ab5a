"""Vehicle-routing problems: a validating builder and the frozen problem it produces.

Vocabulary and units follow VROOM: seconds, metres, integer amounts in several
dimensions, inclusive ``[start, end]`` time windows. A *task* is one stop: a job, or the
pickup or the delivery of a shipment. Locations are indices into the per-profile
``durations`` / ``distances`` matrices.

Semantics the solver, the checker and the reports all share:

- a job's ``delivery`` is loaded at the vehicle's start and dropped at the job; its
  ``pickup`` is collected at the job and carried to the end; a shipment's ``amount`` is on
  board from its pickup to its delivery, on one vehicle;
- the load after a step never exceeds the vehicle's capacity, in every dimension;
- ``setup`` is spent only when the previous stop was at another location; a time window
  bounds the *start* of setup-and-service (the arrival, after any waiting);
- a vehicle's travel durations are the profile matrix divided by its ``speed_factor``;
- a route's cost is ``fixed + per_hour * travel_s / 3600 + per_km * travel_m / 1000``
  (VROOM's default: cost = travel seconds).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from routing.errors import InputError

MAX_TIME = 2**40  # an "unbounded" end of time, still safe in int64 sums
TASK_KINDS = ("job", "pickup", "delivery")
STEP_KINDS = ("start", "job", "pickup", "delivery", "break", "end")


@dataclass(frozen=True)
class TimeWindow:
    start: int
    end: int


Amount = tuple[int, ...]
FULL_DAY = (TimeWindow(0, MAX_TIME),)


@dataclass(frozen=True)
class Task:
    """One stop to serve: a job, or a shipment's pickup or delivery."""

    index: int
    kind: str  # "job" | "pickup" | "delivery"
    id: int
    location: int
    setup_s: int
    service_s: int
    time_windows: tuple[TimeWindow, ...]
    delivery: Amount  # jobs: dropped here, loaded at the start
    pickup: Amount  # jobs: collected here, carried to the end
    skills: frozenset[int]
    priority: int
    shipment: int = -1  # index into Problem.shipments, -1 for a job
    description: str = ""

    def load_change(self, amounts: Sequence[Amount]) -> np.ndarray:
        """Change of on-board load at this task (shipment amounts passed in)."""
        if self.kind == "job":
            return np.asarray(self.pickup) - np.asarray(self.delivery)
        amount = np.asarray(amounts[self.shipment])
        return amount if self.kind == "pickup" else -amount


@dataclass(frozen=True)
class Shipment:
    index: int
    pickup: int  # task index
    delivery: int  # task index
    amount: Amount
    skills: frozenset[int]
    priority: int


@dataclass(frozen=True)
class Break:
    id: int
    time_windows: tuple[TimeWindow, ...]
    service_s: int
    max_load: Amount | None = None
    description: str = ""


@dataclass(frozen=True)
class Step:
    """A fixed step of a vehicle's route (plan mode): kind and task/break index."""

    kind: str  # "start" | "job" | "pickup" | "delivery" | "break" | "end"
    ref: int = -1  # task index, or break position in the vehicle's breaks; -1 otherwise
    service_at: int | None = None
    service_after: int | None = None
    service_before: int | None = None


@dataclass(frozen=True)
class RoutePlan:
    """One vehicle's route: its task and break steps in order (start and end implied).

    A solver's answer (``Solution.routes``) and the checker's input (plan mode) alike;
    ``routing.solution`` re-exports it.
    """

    vehicle: int  # index into Problem.vehicles
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Vehicle:
    index: int
    id: int
    profile: str
    start: int | None  # location index, None = starts at its first task
    end: int | None  # location index, None = ends at its last task
    capacity: Amount
    skills: frozenset[int]
    time_window: TimeWindow
    breaks: tuple[Break, ...] = ()
    speed_factor: float = 1.0
    max_tasks: int | None = None
    max_travel_time: int | None = None
    max_distance: int | None = None
    fixed_cost: int = 0
    per_hour: int = 3600
    per_km: int = 0
    steps: tuple[Step, ...] = ()
    description: str = ""

    def can_serve(self, task: Task) -> bool:
        return task.skills <= self.skills


@dataclass(frozen=True, eq=False)
class Problem:
    """An immutable, validated routing problem."""

    tasks: tuple[Task, ...]
    shipments: tuple[Shipment, ...]
    vehicles: tuple[Vehicle, ...]
    durations: Mapping[str, np.ndarray]  # profile -> int64 [n_loc, n_loc] seconds
    distances: Mapping[str, np.ndarray]  # profile -> int64 [n_loc, n_loc] metres
    n_dims: int
    locations: tuple[tuple[float, float] | None, ...] = ()  # [lon, lat] per location index
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_locations(self) -> int:
        return next(iter(self.durations.values())).shape[0] if self.durations else 0

    def shipment_amounts(self) -> list[Amount]:
        return [s.amount for s in self.shipments]

    def travel(self, vehicle: Vehicle) -> tuple[np.ndarray, np.ndarray]:
        """(durations, distances) as this vehicle drives them (speed factor applied)."""
        dur = self.durations[vehicle.profile]
        if vehicle.speed_factor != 1.0:
            dur = np.rint(dur / vehicle.speed_factor).astype(np.int64)
        return dur, self.distances[vehicle.profile]

    def route_cost(self, vehicle: Vehicle, travel_s: int, travel_m: int) -> int:
        """VROOM-style cost of a used vehicle's route."""
        return vehicle.fixed_cost + round(
            vehicle.per_hour * travel_s / 3600 + vehicle.per_km * travel_m / 1000
        )

    def task_label(self, index: int) -> str:
        t = self.tasks[index]
        return f"{t.kind} {t.id}"


# ---- builder -----------------------------------------------------------------------------
def _int(value: Any, where: str, *, minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(where, f"must be an integer, got {value!r}")
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise InputError(where, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise InputError(where, f"must be >= {minimum}, got {value!r}")
    return int(value)


def _windows(value: Any, where: str) -> tuple[TimeWindow, ...]:
    if value is None:
        return FULL_DAY
    if not isinstance(value, Sequence) or not value:
        raise InputError(where, "must be a non-empty list of [start, end] windows")
    out = []
    for k, tw in enumerate(value):
        out.append(_window(tw, f"{where}[{k}]"))
    out.sort(key=lambda w: w.start)
    for a, b in itertools.pairwise(out):
        if b.start <= a.end:
            raise InputError(where, "time windows overlap")
    return tuple(out)


def _window(value: Any, where: str) -> TimeWindow:
    if not isinstance(value, Sequence) or len(value) != 2:
        raise InputError(where, "a time window is [start, end]")
    start, end = _int(value[0], f"{where}[0]"), _int(value[1], f"{where}[1]")
    if start > end:
        raise InputError(where, f"window start {start} is after its end {end}")
    return TimeWindow(start, end)


def _amount(value: Any, where: str, n_dims: int | None) -> Amount:
    if value is None:
        return tuple([0] * (n_dims or 0))
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise InputError(where, "must be a list of integers")
    amount = tuple(_int(v, f"{where}[{k}]") for k, v in enumerate(value))
    if n_dims is not None and len(amount) != n_dims:
        raise InputError(where, f"has {len(amount)} dimensions, the problem has {n_dims}")
    return amount


def _skills(value: Any, where: str) -> frozenset[int]:
    if value is None:
        return frozenset()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise InputError(where, "must be a list of integers")
    return frozenset(_int(v, f"{where}[{k}]") for k, v in enumerate(value))


class ProblemBuilder:
    """Collects jobs, shipments, vehicles and matrices; ``build()`` validates and freezes.

    Every error names the offending field the way the JSON document spells it
    (``jobs[3].time_windows[0]``).
    """

    def __init__(self, n_dims: int | None = None) -> None:
        self._n_dims = n_dims
        self._tasks: list[Task] = []
        self._shipments: list[Shipment] = []
        self._vehicles: list[Vehicle] = []
        self._durations: dict[str, np.ndarray] = {}
        self._distances: dict[str, np.ndarray] = {}
        self._locations: list[tuple[float, float] | None] = []
        self._job_ids: set[int] = set()
        self._pickup_ids: set[int] = set()
        self._delivery_ids: set[int] = set()
        self._vehicle_ids: set[int] = set()
        self.meta: dict[str, Any] = {}

    # amounts fix the number of dimensions the first time one is seen
    def _amt(self, value: Any, where: str) -> Amount:
        amount = _amount(value, where, self._n_dims)
        if value is not None and self._n_dims is None:
            self._n_dims = len(amount)
        return amount

    def set_matrix(
        self, profile: str, durations: Any, distances: Any | None = None, where: str = ""
    ) -> None:
        where = where or f"matrices.{profile}"
        dur = self._square(durations, f"{where}.durations")
        dist = dur if distances is None else self._square(distances, f"{where}.distances")
        if dist.shape != dur.shape:
            raise InputError(f"{where}.distances", "must have the same size as durations")
        self._durations[profile] = dur
        self._distances[profile] = dist

    @staticmethod
    def _square(value: Any, where: str) -> np.ndarray:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(where, "must be a square matrix of numbers") from None
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise InputError(where, f"must be a square matrix, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)) or (arr < 0).any():
            raise InputError(where, "must hold finite numbers >= 0")
        return np.rint(arr).astype(np.int64)

    def set_locations(self, coords: Sequence[tuple[float, float] | None]) -> None:
        """[lon, lat] of each matrix index, when known (for geometry)."""
        self._locations = list(coords)

    def add_job(
        self,
        *,
        id: int,
        location: int,
        where: str,
        delivery: Any = None,
        pickup: Any = None,
        setup: Any = 0,
        service: Any = 0,
        time_windows: Any = None,
        skills: Any = None,
        priority: Any = 0,
        description: str = "",
    ) -> int:
        job_id = _int(id, f"{where}.id")
        if job_id in self._job_ids:
            raise InputError(f"{where}.id", f"duplicate job id {job_id}")
        self._job_ids.add(job_id)
        return self._add_task(
            kind="job",
            id=job_id,
            location=location,
            where=where,
            delivery=self._amt(delivery, f"{where}.delivery"),
            pickup=self._amt(pickup, f"{where}.pickup"),
            setup=setup,
            service=service,
            time_windows=time_windows,
            skills=_skills(skills, f"{where}.skills"),
            priority=priority,
            description=description,
        )

    def add_shipment(
        self,
        *,
        where: str,
        amount: Any = None,
        skills: Any = None,
        priority: Any = 0,
        pickup: Mapping[str, Any],
        delivery: Mapping[str, Any],
    ) -> int:
        """Add a shipment; ``pickup``/``delivery`` hold id, location, setup, service,
        time_windows, description."""
        amt = self._amt(amount, f"{where}.amount")
        sk = _skills(skills, f"{where}.skills")
        prio = _int(priority, f"{where}.priority")
        index = len(self._shipments)
        tasks = []
        for kind, spec, ids in (
            ("pickup", pickup, self._pickup_ids),
            ("delivery", delivery, self._delivery_ids),
        ):
            w = f"{where}.{kind}"
            task_id = _int(spec.get("id"), f"{w}.id")
            if task_id in ids:
                raise InputError(f"{w}.id", f"duplicate {kind} id {task_id}")
            ids.add(task_id)
            tasks.append(
                self._add_task(
                    kind=kind,
                    id=task_id,
                    location=spec["location"],
                    where=w,
                    delivery=(),
                    pickup=(),
                    setup=spec.get("setup", 0),
                    service=spec.get("service", 0),
                    time_windows=spec.get("time_windows"),
                    skills=sk,
                    priority=prio,
                    description=str(spec.get("description", "")),
                    shipment=index,
                )
            )
        self._shipments.append(Shipment(index, tasks[0], tasks[1], amt, sk, prio))
        return index

    def _add_task(
        self,
        *,
        kind: str,
        id: int,
        location: int,
        where: str,
        delivery: Amount,
        pickup: Amount,
        setup: Any,
        service: Any,
        time_windows: Any,
        skills: frozenset[int],
        priority: Any,
        description: str,
        shipment: int = -1,
    ) -> int:
        prio = _int(priority, f"{where}.priority")
        if prio > 100:
            raise InputError(f"{where}.priority", f"must be in 0..100, got {prio}")
        task = Task(
            index=len(self._tasks),
            kind=kind,
            id=id,
            location=_int(location, f"{where}.location_index"),
            setup_s=_int(setup, f"{where}.setup"),
            service_s=_int(service, f"{where}.service"),
            time_windows=_windows(time_windows, f"{where}.time_windows"),
            delivery=delivery,
            pickup=pickup,
            skills=skills,
            priority=prio,
            shipment=shipment,
            description=description,
        )
        self._tasks.append(task)
        return task.index

    def add_vehicle(
        self,
        *,
        id: int,
        where: str,
        profile: str = "car",
        start: int | None = None,
        end: int | None = None,
        capacity: Any = None,
        skills: Any = None,
        time_window: Any = None,
        breaks: Sequence[Mapping[str, Any]] = (),
        speed_factor: Any = 1.0,
        max_tasks: Any = None,
        max_travel_time: Any = None,
        max_distance: Any = None,
        costs: Mapping[str, Any] | None = None,
        steps: Sequence[Step] = (),
        description: str = "",
    ) -> int:
        vid = _int(id, f"{where}.id")
        if vid in self._vehicle_ids:
            raise InputError(f"{where}.id", f"duplicate vehicle id {vid}")
        self._vehicle_ids.add(vid)
        if not isinstance(speed_factor, (int, float)) or not 0 < speed_factor <= 5:
            raise InputError(f"{where}.speed_factor", "must be a number in (0, 5]")
        costs = dict(costs or {})
        unknown = set(costs) - {"fixed", "per_hour", "per_km"}
        if unknown:
            raise InputError(f"{where}.costs", f"unknown key(s) {sorted(unknown)}")
        brk = []
        break_ids: set[int] = set()
        for k, b in enumerate(breaks):
            w = f"{where}.breaks[{k}]"
            bid = _int(b.get("id"), f"{w}.id")
            if bid in break_ids:
                raise InputError(f"{w}.id", f"duplicate break id {bid}")
            break_ids.add(bid)
            max_load = b.get("max_load")
            brk.append(
                Break(
                    id=bid,
                    time_windows=_windows(b.get("time_windows"), f"{w}.time_windows"),
                    service_s=_int(b.get("service", 0), f"{w}.service"),
                    max_load=None if max_load is None else self._amt(max_load, f"{w}.max_load"),
                    description=str(b.get("description", "")),
                )
            )
        vehicle = Vehicle(
            index=len(self._vehicles),
            id=vid,
            profile=str(profile),
            start=None if start is None else _int(start, f"{where}.start_index"),
            end=None if end is None else _int(end, f"{where}.end_index"),
            capacity=self._amt(capacity, f"{where}.capacity") if capacity is not None else (),
            skills=_skills(skills, f"{where}.skills"),
            time_window=(
                TimeWindow(0, MAX_TIME)
                if time_window is None
                else _window(time_window, f"{where}.time_window")
            ),
            breaks=tuple(brk),
            speed_factor=float(speed_factor),
            max_tasks=None if max_tasks is None else _int(max_tasks, f"{where}.max_tasks"),
            max_travel_time=(
                None
                if max_travel_time is None
                else _int(max_travel_time, f"{where}.max_travel_time")
            ),
            max_distance=(
                None if max_distance is None else _int(max_distance, f"{where}.max_distance")
            ),
            fixed_cost=_int(costs.get("fixed", 0), f"{where}.costs.fixed"),
            per_hour=_int(costs.get("per_hour", 3600), f"{where}.costs.per_hour"),
            per_km=_int(costs.get("per_km", 0), f"{where}.costs.per_km"),
            steps=tuple(steps),
            description=description,
        )
        self._vehicles.append(vehicle)
        return vehicle.index

    def task_id(self, index: int) -> int:
        return self._tasks[index].id

    def shipment_tasks(self, index: int) -> tuple[int, int]:
        s = self._shipments[index]
        return s.pickup, s.delivery

    def matrix_size(self) -> int:
        return next(iter(self._durations.values())).shape[0] if self._durations else 0

    def profiles(self) -> list[str]:
        """The vehicles' profiles, in first-seen order."""
        return list(dict.fromkeys(v.profile for v in self._vehicles))

    def build(self) -> Problem:
        """Check cross-references and freeze."""
        if not self._vehicles:
            raise InputError("vehicles", "at least one vehicle is needed")
        if not self._durations:
            raise InputError("matrices", "no travel matrix given")
        sizes = {m.shape[0] for m in self._durations.values()}
        if len(sizes) != 1:
            raise InputError("matrices", "all profiles' matrices must have the same size")
        n_loc = sizes.pop()
        n_dims = self._n_dims or 0
        for t in self._tasks:
            where = self._task_where(t)
            if t.location >= n_loc:
                raise InputError(
                    f"{where}.location_index",
                    f"{t.location} is outside the {n_loc}x{n_loc} matrix",
                )
        for v in self._vehicles:
            where = f"vehicles[{v.index}]"
            if v.profile not in self._durations:
                known = ", ".join(sorted(self._durations))
                raise InputError(
                    f"{where}.profile", f"unknown profile {v.profile!r} (matrices: {known})"
                )
            for name, loc in (("start_index", v.start), ("end_index", v.end)):
                if loc is not None and loc >= n_loc:
                    raise InputError(
                        f"{where}.{name}", f"{loc} is outside the {n_loc}x{n_loc} matrix"
                    )
            self._check_steps(v)
        vehicles = tuple(
            replace(v, capacity=(0,) * n_dims) if not v.capacity and n_dims else v
            for v in self._vehicles
        )
        tasks = tuple(self._fill_dims(t, n_dims) for t in self._tasks)
        shipments = tuple(
            s if s.amount else replace(s, amount=(0,) * n_dims) for s in self._shipments
        )
        locations = tuple(self._locations) if self._locations else (None,) * n_loc
        return Problem(
            tasks=tasks,
            shipments=shipments,
            vehicles=vehicles,
            durations=dict(self._durations),
            distances=dict(self._distances),
            n_dims=n_dims,
            locations=locations,
            meta=dict(self.meta),
        )

    def _task_where(self, t: Task) -> str:
        if t.kind == "job":
            return f"job {t.id}"
        return f"shipment {t.kind} {t.id}"

    @staticmethod
    def _fill_dims(t: Task, n_dims: int) -> Task:
        if len(t.delivery) == n_dims and len(t.pickup) == n_dims:
            return t
        zero = (0,) * n_dims
        return replace(t, delivery=t.delivery or zero, pickup=t.pickup or zero)

    def _check_steps(self, v: Vehicle) -> None:
        n = len(self._tasks)
        for k, s in enumerate(v.steps):
            where = f"vehicles[{v.index}].steps[{k}]"
            if s.kind not in STEP_KINDS:
                raise InputError(f"{where}.type", f"unknown step type {s.kind!r}")
            if s.kind in TASK_KINDS and not 0 <= s.ref < n:
                raise InputError(f"{where}.id", "does not name a task of the problem")
            if s.kind == "break" and not 0 <= s.ref < len(v.breaks):
                raise InputError(f"{where}.id", "does not name a break of this vehicle")
