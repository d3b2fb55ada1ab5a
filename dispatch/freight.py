"""Freight matching (车货配载): posted cargo x posted spare truck capacity.

A **capacity posting** is a truck with a planned route: ordered stops (lon, lat) with a
planned time each (seconds; :func:`to_seconds` converts tz-aware datetimes), the capacity
left on each leg (leg ``k`` = stop ``k`` -> stop ``k + 1``, kg and litres), refrigeration and
livestock fittings, and its price per km and/or per tonne-km (fen). A **cargo** has an
origin and a destination, weight, volume, cold-chain and live-animal needs, a pickup window
and a delivery deadline (seconds), and the price the shipper offers.

**Insertion.** The cargo's pickup P goes between stops ``i - 1`` and ``i`` and its delivery D
between stops ``j - 1`` and ``j``, ``1 <= i <= j <= n - 1`` (``i == j``: both on the same
leg, P before D). The truck keeps its first and last stop; nothing is appended after them.
The cargo rides the original legs ``i - 1 .. j - 1`` (``Match.first_leg .. last_leg``):
each needs ``remaining_kg >= weight`` and ``remaining_l >= volume``.

**Detour** = the route's length (and driving time) with P and D inserted minus without
them, from the :class:`Travel` in use; waiting is not detour.

**Time model.** The planned time of a stop is when the truck leaves it (no dwell is
modelled). The truck reaches P at ``planned(i - 1) + t(stop i-1, P)``, which must not be
after ``pickup_end``; if before ``pickup_start`` it waits. From then on every later stop is
delayed by the extra time so far (detour plus waiting): stops ``i .. j - 1`` by ``delay1``,
stops ``j ..`` by ``delay2`` (which adds the delivery's detour). D is reached at the
(delayed) departure of stop ``j - 1`` plus the drive to D (for ``i == j``, directly from P)
and must not be after ``deliver_by``. Every later stop's new time must stay within its
planned time + ``slack_s`` (default 2 h), so the truck's own commitments still hold.

**Compatibility.** Chilled or frozen cargo (``needs_cold``) needs a refrigerated truck, live
animals a livestock truck.

**Suggested price** (integer fen) is the marginal cost: ``detour km x price_per_km`` plus,
for tonne-km pricing, ``tonnes x km ridden x price_per_tkm`` (the km ridden are those of the
modified route from P to D), never below ``min_price_fen`` (default :data:`MIN_PRICE_FEN`,
¥10: a booking costs at least the handling of one extra stop). A truck that posts neither
price is offered at the minimum.

**Ranking.** A truck's best insertion minimises (detour m, detour s, price, i, j); trucks
rank by (detour m, detour s, suggested price, truck id); all on integers (metres, seconds
and fen rounded half to even), so the order is deterministic.

**Prefilter, exact.** Lower bounds on the detour come from straight lines: with
``m(a, b) >= c x gc(a, b)`` for the travel's ``min_circuity`` ``c`` and great-circle metres
``gc``, and ``|ab|`` the chord through the earth (never longer than the great circle):

1. route level, for every truck (two chords each, cheap for the whole fleet): the new route
   still runs first stop F -> P -> D -> last stop L, so the detour is at least
   ``c x (|FP| + |PD| + |DL|)`` minus the route's own travel metres;
2. leg level, for the trucks that pass 1: a pickup on leg (a, b) adds at least
   ``c x (|aP| + |Pb|) - m(a, b)`` (m(a, b) = the leg's own travel metres, costed once per
   fleet), the same for the delivery; the truck's bound is ``min(minP + minD,
   max(minP, minD))`` over its usable legs (room for the cargo; for the pickup, a start not
   after the window and an end that, delayed to the window's opening, is within slack).

Each bound keeps a metre (and a second on times) of margin against rounding. Trucks that
are incompatible, lack room on every leg or start after the pickup window are dropped.
The rest are examined exactly in increasing bound order, in batches, until the next bound
exceeds the ``limit``-th best detour found: a truck never examined has a larger detour
than every returned one, so the result is exactly the brute-force ranking. ``prefilter_km``
(default 60) is a cut on the **detour**: matches adding more than that many km are not
returned and trucks whose bound exceeds it are never examined; ``None`` = no cut, still
exact but slower for cargos with fewer than ``limit`` feasible trucks (all candidates are
then examined). With ``min_circuity == 0`` the bounds are void and every compatible truck
is examined. The bounds are plain numpy over all trucks (no spatial tree: the route-level
bound leaves a few hundred of 5,000 trucks for the leg level), then exact insertion
runs vectorised over every (pickup leg, delivery leg) pair of a batch of trucks.

This module knows nothing of HTTP or the database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from routing.network.geometry import EARTH_RADIUS_M, haversine_m

if TYPE_CHECKING:
    from routing.network.graph import RoadNetwork

DEFAULT_SLACK_S = 7200  # a truck's later stops may slip by at most 2 h
MIN_PRICE_FEN = 1000  # ¥10: the least a booking is offered at
DEFAULT_PREFILTER_KM = 60.0  # matches adding more road km than this are not offered
TEMPERATURE_CLASSES = ("ambient", "chilled", "frozen")
_LB_MARGIN_M = 1.0  # metres taken off every lower bound against rounding
_LB_REL = 1e-9
_TIME_MARGIN_S = 1.0  # seconds of slack added to time-based exclusions against rounding


# ---- time and classes ----------------------------------------------------------------------
def to_seconds(t: datetime | float | int) -> float:
    """Seconds since the epoch of a tz-aware datetime, or a number of seconds as is."""
    if isinstance(t, datetime):
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"{t.isoformat()} has no time zone: give a tz-aware datetime")
        return t.timestamp()
    return float(t)


def needs_cold(temperature_class: str) -> bool:
    """Whether a temperature class (ambient / chilled / frozen) needs a refrigerated truck."""
    if temperature_class not in TEMPERATURE_CLASSES:
        raise ValueError(f"temperature class must be one of {TEMPERATURE_CLASSES}")
    return temperature_class != "ambient"


# ---- travel --------------------------------------------------------------------------------
class Travel(Protocol):
    """Travel durations and distances between points, elementwise and vectorised.

    ``durations(a_xy, b_xy)`` takes arrays of ``[..., 2]`` (lon, lat) points that broadcast
    against each other and returns ``(seconds, metres)`` of shape ``broadcast[..., 0]``,
    float, ``inf`` where b cannot be reached from a. ``min_circuity`` is a number ``c`` with
    ``metres(a, b) >= c x great-circle metres(a, b)`` for every pair; the prefilter relies
    on it (``0`` disables pruning)."""

    @property
    def min_circuity(self) -> float: ...

    def durations(self, a_xy: np.ndarray, b_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class HaversineTravel:
    """Great-circle distance x ``circuity`` at a constant ``speed_kmh``."""

    speed_kmh: float = 45.0
    circuity: float = 1.4

    def __post_init__(self) -> None:
        if not self.speed_kmh > 0 or not self.circuity >= 1.0:
            raise ValueError("speed_kmh must be > 0 and circuity >= 1")

    @property
    def min_circuity(self) -> float:
        return self.circuity

    def durations(self, a_xy: np.ndarray, b_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = np.asarray(a_xy, dtype=float)
        b = np.asarray(b_xy, dtype=float)
        metres = self.circuity * haversine_m(a[..., 0], a[..., 1], b[..., 0], b[..., 1])
        return metres / (self.speed_kmh / 3.6), metres


class NetworkTravel:
    """Fastest routes on the road network for a profile.

    Every point is snapped to its nearest node and reaches it by the network's access leg
    (as in :func:`routing.network.travel_matrix`); one call costs one matrix over the
    distinct source and target nodes involved (split in blocks of at most ``max_cells``
    node pairs when larger). The same point to itself costs nothing. ``min_circuity``
    (default 1: road metres are never shorter than the straight line) feeds the prefilter.
    """

    def __init__(
        self,
        network: RoadNetwork,
        profile: str = "truck",
        *,
        min_circuity: float = 1.0,
        max_cells: int = 4_000_000,
    ) -> None:
        self.network = network
        self.profile = profile
        self._min_circuity = float(min_circuity)
        self.max_cells = max(1, int(max_cells))

    @property
    def min_circuity(self) -> float:
        return self._min_circuity

    def durations(self, a_xy: np.ndarray, b_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from routing.network.matrix import Waypoint, _access_costs, travel_matrix
        from routing.network.snap import check_inside
        from routing.network.speeds import load_speeds

        a, b = np.broadcast_arrays(np.asarray(a_xy, dtype=float), np.asarray(b_xy, dtype=float))
        shape = a.shape[:-1]
        a2, b2 = a.reshape(-1, 2), b.reshape(-1, 2)
        n = a2.shape[0]
        if n == 0:
            return np.zeros(shape), np.zeros(shape)
        pts, inv = np.unique(np.vstack([a2, b2]), axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        check_inside(pts[:, 0], pts[:, 1], [f"point {x:.6f},{y:.6f}" for x, y in pts])
        net = self.network
        nodes, access_m = net.node_index.nearest(pts[:, 0], pts[:, 1])
        wps = [
            Waypoint(f"point {k}", float(pts[k, 0]), float(pts[k, 1]), int(nodes[k]), float(m))
            for k, m in enumerate(access_m)
        ]
        acc_s, acc_m = _access_costs(net, wps, self.profile, load_speeds())
        ia, ib = inv[:n], inv[n:]
        src, dst = nodes[ia], nodes[ib]

        def node_wps(ids: np.ndarray) -> list[Waypoint]:
            return [
                Waypoint(f"node {k}", float(net.node_lon[k]), float(net.node_lat[k]), int(k), 0.0)
                for k in ids
            ]

        sec = np.empty(n)
        met = np.empty(n)
        order = np.argsort(src, kind="stable")
        n_src, n_dst = np.unique(src).size, np.unique(dst).size
        block = n if n_src * n_dst <= self.max_cells else max(1, math.isqrt(self.max_cells))
        for lo in range(0, n, block):
            sel = order[lo : lo + block]
            us, si = np.unique(src[sel], return_inverse=True)
            ud, di = np.unique(dst[sel], return_inverse=True)
            mat = travel_matrix(net, node_wps(us), node_wps(ud), self.profile)
            d_s = mat.durations_s[si.reshape(-1), di.reshape(-1)].astype(float)
            d_m = mat.distances_m[si.reshape(-1), di.reshape(-1)].astype(float)
            bad = d_s < 0
            d_s[bad], d_m[bad] = np.inf, np.inf
            sec[sel], met[sel] = d_s, d_m
        sec = sec + acc_s[ia] + acc_s[ib]
        met = met + acc_m[ia] + acc_m[ib]
        same = ia == ib
        sec[same], met[same] = 0.0, 0.0
        return sec.reshape(shape), met.reshape(shape)


# ---- postings --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TruckRoute:
    """Spare capacity along a planned route (``n >= 2`` stops, ``n - 1`` legs)."""

    id: int
    stops_xy: np.ndarray  # [n, 2] lon, lat
    stop_times: np.ndarray  # [n] planned departure, seconds (datetimes are converted)
    remaining_kg: np.ndarray  # [n - 1] per leg
    remaining_l: np.ndarray  # [n - 1] per leg
    refrigerated: bool = False
    livestock: bool = False
    price_per_km_fen: int | None = None
    price_per_tkm_fen: int | None = None

    def __post_init__(self) -> None:
        xy = np.asarray(self.stops_xy, dtype=float)
        times_in = np.asarray(self.stop_times)
        if times_in.dtype == object:
            times = np.array([to_seconds(t) for t in times_in.reshape(-1)], dtype=float)
        else:
            times = times_in.astype(float).reshape(-1)
        kg = np.asarray(self.remaining_kg, dtype=float).reshape(-1)
        litres = np.asarray(self.remaining_l, dtype=float).reshape(-1)
        n = xy.shape[0] if xy.ndim == 2 else -1
        if xy.ndim != 2 or xy.shape[1] != 2 or n < 2:
            raise ValueError(f"truck {self.id}: stops_xy must be [n >= 2, 2] (lon, lat)")
        if not np.isfinite(xy).all() or not np.isfinite(times).all():
            raise ValueError(f"truck {self.id}: stops and times must be finite")
        if times.shape != (n,) or kg.shape != (n - 1,) or litres.shape != (n - 1,):
            raise ValueError(f"truck {self.id}: {n} stops need {n} times and {n - 1} legs")
        if (np.diff(times) < 0).any():
            raise ValueError(f"truck {self.id}: planned stop times must not decrease")
        for name in ("price_per_km_fen", "price_per_tkm_fen"):
            price = getattr(self, name)
            if price is not None and price < 0:
                raise ValueError(f"truck {self.id}: {name} must be >= 0")
        object.__setattr__(self, "stops_xy", xy)
        object.__setattr__(self, "stop_times", times)
        object.__setattr__(self, "remaining_kg", kg)
        object.__setattr__(self, "remaining_l", litres)

    @property
    def n_stops(self) -> int:
        return int(self.stops_xy.shape[0])


@dataclass(frozen=True)
class Cargo:
    """A shipment looking for a truck; times in seconds (see :func:`to_seconds`)."""

    id: int
    origin_xy: tuple[float, float]
    destination_xy: tuple[float, float]
    weight_kg: float
    volume_l: float
    needs_cold: bool
    live_animal: bool
    pickup_start: int
    pickup_end: int
    deliver_by: int
    offered_price_fen: int

    def __post_init__(self) -> None:
        for name in ("origin_xy", "destination_xy"):
            xy = tuple(float(v) for v in getattr(self, name))
            if len(xy) != 2 or not all(math.isfinite(v) for v in xy):
                raise ValueError(f"cargo {self.id}: {name} must be a finite (lon, lat)")
            object.__setattr__(self, name, xy)
        if not self.weight_kg >= 0 or not self.volume_l >= 0:
            raise ValueError(f"cargo {self.id}: weight and volume must be >= 0")
        if self.pickup_start > self.pickup_end:
            raise ValueError(f"cargo {self.id}: pickup window starts after it ends")


@dataclass(frozen=True)
class Match:
    """The best insertion of a cargo into one truck's route.

    The pickup goes between stops ``pickup_pos - 1`` and ``pickup_pos``, the delivery
    between ``delivery_pos - 1`` and ``delivery_pos``; the cargo occupies the original legs
    ``first_leg .. last_leg`` (inclusive), the capacity to book."""

    cargo: int
    truck: int
    pickup_pos: int
    delivery_pos: int
    detour_m: int
    detour_s: int
    suggested_price_fen: int
    first_leg: int
    last_leg: int

    def rank_key(self) -> tuple[int, int, int, int]:
        return (self.detour_m, self.detour_s, self.suggested_price_fen, self.truck)


@dataclass
class MatchStats:
    """Counters filled by :func:`match_cargo` / :func:`match_all` when passed one."""

    cargos: int = 0
    candidates: int = 0  # compatible trucks within the detour cut by their lower bound
    examined: int = 0  # trucks whose insertions were evaluated exactly
    matches: int = 0  # matches returned


def suggested_price(
    detour_m: int,
    ride_m: int,
    weight_kg: float,
    truck: TruckRoute,
    min_price_fen: int = MIN_PRICE_FEN,
) -> int:
    """Marginal cost of carrying the cargo, integer fen, at least ``min_price_fen``."""
    km_part = 0.0
    if truck.price_per_km_fen is not None:
        km_part = truck.price_per_km_fen * max(detour_m, 0) / 1000
    tkm_part = 0.0
    if truck.price_per_tkm_fen is not None:
        tkm_part = truck.price_per_tkm_fen * weight_kg * max(ride_m, 0) / 1e6
    return max(int(min_price_fen), round(km_part + tkm_part))


def _compatible(cargo: Cargo, truck: TruckRoute) -> bool:
    return (truck.refrigerated or not cargo.needs_cold) and (
        truck.livestock or not cargo.live_animal
    )


# ---- the reference ---------------------------------------------------------------------------
def brute_force(
    cargo: Cargo,
    truck: TruckRoute,
    travel: Travel,
    *,
    slack_s: float = DEFAULT_SLACK_S,
    min_price_fen: int = MIN_PRICE_FEN,
) -> Match | None:
    """The best insertion by a plain double loop over (i, j), one travel query per pair."""
    if not _compatible(cargo, truck):
        return None

    def tr(a: Any, b: Any) -> tuple[float, float]:
        s, m = travel.durations(np.asarray(a, dtype=float)[None], np.asarray(b, dtype=float)[None])
        return float(s[0]), float(m[0])

    x, times, n = truck.stops_xy, truck.stop_times, truck.n_stops
    p, d = cargo.origin_xy, cargo.destination_xy
    legs = [tr(x[k], x[k + 1]) for k in range(n - 1)]
    best: tuple[tuple[int, int, int, int, int], Match] | None = None
    for i in range(1, n):
        lp = i - 1
        t_ap, m_ap = tr(x[lp], p)
        arrive_p = float(times[lp]) + t_ap
        if arrive_p > cargo.pickup_end:
            continue
        start_p = max(arrive_p, float(cargo.pickup_start))
        for j in range(i, n):
            lg = j - 1
            rides = range(lp, lg + 1)
            if any(
                truck.remaining_kg[q] < cargo.weight_kg or truck.remaining_l[q] < cargo.volume_l
                for q in rides
            ):
                continue
            if j == i:
                t_pd, m_pd = tr(p, d)
                t_db, m_db = tr(d, x[i])
                arrive_d = start_p + t_pd
                delay = arrive_d + t_db - float(times[lp]) - legs[lp][0]
                ok = arrive_d <= cargo.deliver_by and delay <= slack_s
                dm = m_ap + m_pd + m_db - legs[lp][1]
                ds = t_ap + t_pd + t_db - legs[lp][0]
                ride = m_pd
            else:
                t_pb, m_pb = tr(p, x[i])
                t_ad, m_ad = tr(x[lg], d)
                t_db, m_db = tr(d, x[j])
                delay1 = start_p + t_pb - float(times[lp]) - legs[lp][0]
                arrive_d = float(times[lg]) + delay1 + t_ad
                delay2 = delay1 + (t_ad + t_db - legs[lg][0])
                ok = arrive_d <= cargo.deliver_by and delay1 <= slack_s and delay2 <= slack_s
                dm = (m_ap + m_pb - legs[lp][1]) + (m_ad + m_db - legs[lg][1])
                ds = (t_ap + t_pb - legs[lp][0]) + (t_ad + t_db - legs[lg][0])
                ride = m_pb + sum(legs[q][1] for q in range(i, lg)) + m_ad
            if not ok or not (math.isfinite(dm) and math.isfinite(ds) and math.isfinite(ride)):
                continue
            dm_i, ds_i = round(dm), round(ds)
            price = suggested_price(dm_i, round(ride), cargo.weight_kg, truck, min_price_fen)
            key = (dm_i, ds_i, price, i, j)
            if best is None or key < best[0]:
                best = (key, Match(cargo.id, truck.id, i, j, dm_i, ds_i, price, lp, lg))
    return None if best is None else best[1]


# ---- the fleet, prepared once --------------------------------------------------------------
def _xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Earth-centred cartesian metres of (lon, lat) on the sphere of ``EARTH_RADIUS_M``."""
    lo, la = np.radians(lon), np.radians(lat)
    c = np.cos(la)
    return np.stack([c * np.cos(lo), c * np.sin(lo), np.sin(la)], axis=-1) * EARTH_RADIUS_M


@dataclass(frozen=True, eq=False)
class Fleet:
    """Capacity postings as padded arrays, with their legs costed by one travel model.

    Arrays are ``[trucks, width]`` for stops (padded by repeating the last stop) and
    ``[trucks, width - 1]`` for legs (padding marked not ``leg_valid``)."""

    trucks: tuple[TruckRoute, ...]
    travel: Travel
    ids: np.ndarray
    n_stops: np.ndarray
    xy: np.ndarray
    xyz: np.ndarray
    times: np.ndarray
    leg_s: np.ndarray
    leg_m: np.ndarray
    leg_valid: np.ndarray
    cap_kg: np.ndarray
    cap_l: np.ndarray
    refrigerated: np.ndarray
    livestock: np.ndarray
    per_km: np.ndarray  # float, nan where not posted
    per_tkm: np.ndarray
    first_xyz: np.ndarray  # [trucks, 3] earth-centred metres of the first stop
    last_xyz: np.ndarray
    route_m: np.ndarray  # [trucks] travel metres of the planned route
    max_kg: np.ndarray  # [trucks] most room on any leg
    max_l: np.ndarray
    latest_leg_end: np.ndarray  # [trucks] max over legs of planned start + leg seconds

    def __len__(self) -> int:
        return len(self.trucks)


def prepare(trucks: Sequence[TruckRoute], travel: Travel) -> Fleet:
    """Pad the postings into arrays and cost every planned leg once with ``travel``."""
    trucks = tuple(trucks)
    nt = len(trucks)
    n_stops = np.array([t.n_stops for t in trucks], dtype=np.int64)
    width = int(n_stops.max()) if nt else 2
    xy = np.zeros((nt, width, 2))
    times = np.zeros((nt, width))
    cap_kg = np.full((nt, width - 1), -np.inf)
    cap_l = np.full((nt, width - 1), -np.inf)
    for k, t in enumerate(trucks):
        n = t.n_stops
        xy[k, :n], xy[k, n:] = t.stops_xy, t.stops_xy[-1]
        times[k, :n], times[k, n:] = t.stop_times, t.stop_times[-1]
        cap_kg[k, : n - 1] = t.remaining_kg
        cap_l[k, : n - 1] = t.remaining_l
    leg_valid = np.arange(width - 1)[None, :] < (n_stops[:, None] - 1)
    leg_s = np.zeros((nt, width - 1))
    leg_m = np.zeros((nt, width - 1))
    if nt:
        a, b = xy[:, :-1][leg_valid], xy[:, 1:][leg_valid]
        s, m = travel.durations(a, b)
        leg_s[leg_valid], leg_m[leg_valid] = s, m

    def price(v: int | None) -> float:
        return math.nan if v is None else float(v)

    xyz = _xyz(xy[..., 0], xy[..., 1])
    last = n_stops - 1
    rows = np.arange(nt)
    return Fleet(
        trucks=trucks,
        travel=travel,
        ids=np.array([t.id for t in trucks], dtype=np.int64),
        n_stops=n_stops,
        xy=xy,
        xyz=xyz,
        times=times,
        leg_s=leg_s,
        leg_m=leg_m,
        leg_valid=leg_valid,
        cap_kg=cap_kg,
        cap_l=cap_l,
        refrigerated=np.array([t.refrigerated for t in trucks], dtype=bool),
        livestock=np.array([t.livestock for t in trucks], dtype=bool),
        per_km=np.array([price(t.price_per_km_fen) for t in trucks], dtype=float),
        per_tkm=np.array([price(t.price_per_tkm_fen) for t in trucks], dtype=float),
        first_xyz=xyz[:, 0],
        last_xyz=xyz[rows, last],
        route_m=leg_m.sum(axis=1),
        max_kg=cap_kg.max(axis=1, initial=-np.inf),
        max_l=cap_l.max(axis=1, initial=-np.inf),
        latest_leg_end=np.where(leg_valid, times[:, :-1] + leg_s, -np.inf).max(
            axis=1, initial=-np.inf
        ),
    )


# ---- the engine ------------------------------------------------------------------------------
def _candidates(
    fleet: Fleet, cargo: Cargo, threshold: float, slack_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """The trucks that may serve the cargo with a detour <= ``threshold`` metres, with a
    lower bound on their detour each (see the module docstring).

    Two levels: a route-level bound for every truck from two chords (the new route still
    runs first stop -> P -> D -> last stop: at least ``c x (|FP| + |PD| + |DL|)``, minus
    the route's own metres), cheap enough for the whole fleet, then the leg-level bound
    for the trucks that pass. A leg can take the pickup only if its start is not after the
    pickup window and the truck, delayed to the window's start, would still be within its
    slack at the leg's end (travel times are never negative)."""
    c = float(fleet.travel.min_circuity) * (1.0 - _LB_REL)
    ends = _xyz(
        np.array([cargo.origin_xy[0], cargo.destination_xy[0]]),
        np.array([cargo.origin_xy[1], cargo.destination_xy[1]]),
    )
    p3, d3 = ends[0], ends[1]
    ok = (
        (fleet.max_kg >= cargo.weight_kg)
        & (fleet.max_l >= cargo.volume_l)
        & (fleet.times[:, 0] <= cargo.pickup_end)
        & (fleet.latest_leg_end + (slack_s + _TIME_MARGIN_S) >= cargo.pickup_start)
    )
    if cargo.needs_cold:
        ok &= fleet.refrigerated
    if cargo.live_animal:
        ok &= fleet.livestock
    d_first = np.sqrt(np.square(fleet.first_xyz - p3).sum(axis=1))
    d_last = np.sqrt(np.square(fleet.last_xyz - d3).sum(axis=1))
    d_pd = float(np.sqrt(np.square(p3 - d3).sum()))
    lb_route = c * (d_first + d_pd + d_last) - fleet.route_m - _LB_MARGIN_M
    idx = np.flatnonzero(ok & (lb_route <= threshold))
    if idx.size == 0:
        return idx, np.empty(0)

    xyz = fleet.xyz[idx]
    leg_m = fleet.leg_m[idx]
    room = (
        fleet.leg_valid[idx]
        & (fleet.cap_kg[idx] >= cargo.weight_kg)
        & (fleet.cap_l[idx] >= cargo.volume_l)
    )
    bounds = []
    for k, end in enumerate(ends):
        chord = np.sqrt(np.square(xyz - end).sum(axis=2))
        e = c * (chord[:, :-1] + chord[:, 1:]) - leg_m - _LB_MARGIN_M
        if k == 0:
            leg_start = fleet.times[idx, :-1]
            leg_end = leg_start + fleet.leg_s[idx] + (slack_s + _TIME_MARGIN_S)
            usable = room & (leg_start <= cargo.pickup_end) & (leg_end >= cargo.pickup_start)
        else:
            usable = room
        bounds.append(np.where(usable, e, np.inf).min(axis=1))
    lp, ld = bounds
    lb = np.maximum(lb_route[idx], np.minimum(lp + ld, np.maximum(lp, ld)))
    keep = lb <= threshold
    return idx[keep], lb[keep]


@dataclass(frozen=True)
class _Best:
    """Per examined truck (arrays of the batch): the best insertion, if any."""

    found: np.ndarray
    leg_p: np.ndarray
    leg_d: np.ndarray
    detour_m: np.ndarray
    detour_s: np.ndarray
    price: np.ndarray


def _evaluate(
    fleet: Fleet, idx: np.ndarray, cargo: Cargo, slack_s: float, min_price_fen: int
) -> _Best:
    """Exact best insertion for the trucks ``idx``, vectorised over all (pickup leg l,
    delivery leg g) pairs, ``l <= g``; same arithmetic, in the same order, as
    :func:`brute_force`."""
    travel = fleet.travel
    k = idx.size
    w = int(fleet.n_stops[idx].max())
    nl = w - 1
    xy = fleet.xy[idx, :w].reshape(-1, 2)
    p = np.array(cargo.origin_xy, dtype=float)[None]
    d = np.array(cargo.destination_xy, dtype=float)[None]
    s_ap, m_ap = (v.reshape(k, w) for v in travel.durations(xy, p))
    s_pb, m_pb = (v.reshape(k, w) for v in travel.durations(p, xy))
    s_ad, m_ad = (v.reshape(k, w) for v in travel.durations(xy, d))
    s_db, m_db = (v.reshape(k, w) for v in travel.durations(d, xy))
    s_pd_a, m_pd_a = travel.durations(p, d)
    s_pd, m_pd = float(s_pd_a[0]), float(m_pd_a[0])

    times = fleet.times[idx, :w]
    t0 = times[:, :nl]  # departure of the stop starting each leg
    ls, lm = fleet.leg_s[idx, :nl], fleet.leg_m[idx, :nl]
    valid = fleet.leg_valid[idx, :nl]

    # pickup on leg l
    arrive_p = t0 + s_ap[:, :nl]
    ok_p = valid & (arrive_p <= cargo.pickup_end)
    start_p = np.maximum(arrive_p, float(cargo.pickup_start))
    delay1 = start_p + s_pb[:, 1:] - t0 - ls  # g > l: stops l+1 .. g
    dpm = m_ap[:, :nl] + m_pb[:, 1:] - lm
    dps = s_ap[:, :nl] + s_pb[:, 1:] - ls
    # delivery on leg g (> l)
    ddm = m_ad[:, :nl] + m_db[:, 1:] - lm
    dds = s_ad[:, :nl] + s_db[:, 1:] - ls

    arrive_d = t0[:, None, :] + delay1[:, :, None] + s_ad[:, None, :nl]
    delay2 = delay1[:, :, None] + dds[:, None, :]
    time_ok = (arrive_d <= cargo.deliver_by) & (delay1[:, :, None] <= slack_s) & (delay2 <= slack_s)
    dm = dpm[:, :, None] + ddm[:, None, :]
    ds = dps[:, :, None] + dds[:, None, :]
    cum = np.concatenate([np.zeros((k, 1)), np.cumsum(lm, axis=1)], axis=1)
    ride = m_pb[:, 1:, None] + (cum[:, None, :nl] - cum[:, 1:, None]) + m_ad[:, None, :nl]

    # both on leg l (the diagonal)
    diag = np.arange(nl)
    arrive_dd = start_p + s_pd
    delay_dd = arrive_dd + s_db[:, 1:] - t0 - ls
    time_ok[:, diag, diag] = (arrive_dd <= cargo.deliver_by) & (delay_dd <= slack_s)
    dm[:, diag, diag] = m_ap[:, :nl] + m_pd + m_db[:, 1:] - lm
    ds[:, diag, diag] = s_ap[:, :nl] + s_pd + s_db[:, 1:] - ls
    ride[:, diag, diag] = m_pd

    # capacity on every leg l .. g: running minimum along g from l
    upper = np.triu(np.ones((nl, nl), dtype=bool))
    fits = (fleet.cap_kg[idx, :nl] >= cargo.weight_kg) & (fleet.cap_l[idx, :nl] >= cargo.volume_l)
    fits_lg = np.logical_and.accumulate(np.where(upper, fits[:, None, :], True), axis=2)

    feasible = (
        upper
        & ok_p[:, :, None]
        & valid[:, None, :]
        & fits_lg
        & time_ok
        & np.isfinite(dm)
        & np.isfinite(ds)
        & np.isfinite(ride)
    )
    dm_i = np.rint(np.where(feasible, dm, 0.0))
    ds_i = np.rint(np.where(feasible, ds, 0.0))
    ride_i = np.rint(np.where(feasible, ride, 0.0))
    per_km = fleet.per_km[idx][:, None, None]
    per_tkm = fleet.per_tkm[idx][:, None, None]
    km_part = np.where(np.isnan(per_km), 0.0, per_km * np.maximum(dm_i, 0.0) / 1000)
    tkm_part = np.where(
        np.isnan(per_tkm), 0.0, per_tkm * cargo.weight_kg * np.maximum(ride_i, 0.0) / 1e6
    )
    price = np.maximum(float(min_price_fen), np.rint(km_part + tkm_part))

    # per truck, lexicographic minimum of (detour m, detour s, price, l, g)
    tie = feasible.reshape(k, -1)
    for key in (dm_i, ds_i, price):
        v = np.where(tie, key.reshape(k, -1), np.inf)
        tie = tie & (v == v.min(axis=1, keepdims=True))
    found = tie.any(axis=1)
    flat = np.argmax(tie, axis=1)
    rows = np.arange(k)
    leg_p, leg_d = flat // nl, flat % nl
    return _Best(
        found=found,
        leg_p=leg_p,
        leg_d=leg_d,
        detour_m=dm_i.reshape(k, -1)[rows, flat],
        detour_s=ds_i.reshape(k, -1)[rows, flat],
        price=price.reshape(k, -1)[rows, flat],
    )


def _match_prepared(
    cargo: Cargo,
    fleet: Fleet,
    *,
    limit: int,
    prefilter_km: float | None,
    slack_s: float,
    min_price_fen: int,
    stats: MatchStats | None,
) -> list[Match]:
    if stats is not None:
        stats.cargos += 1
    if limit <= 0 or len(fleet) == 0:
        return []
    cap = math.inf
    if prefilter_km is not None and math.isfinite(prefilter_km):
        cap = math.floor(prefilter_km * 1000.0)
    cand, lb = _candidates(fleet, cargo, cap + 0.5, slack_s)
    sort = np.argsort(lb, kind="stable")
    order, lb_sorted = cand[sort], lb[sort]
    if stats is not None:
        stats.candidates += int(order.size)

    rows: list[tuple[int, int, int, int, int, int, int]] = []  # (dm, ds, price, id, pos, l, g)
    tau = math.inf  # the limit-th best detour so far (integer metres)
    pos, chunk = 0, max(2 * limit, 32)
    while pos < order.size and lb_sorted[pos] <= tau + 0.5:
        stop = min(pos + chunk, int(np.searchsorted(lb_sorted, tau + 0.5, side="right")))
        idx = order[pos:stop]
        best = _evaluate(fleet, idx, cargo, slack_s, min_price_fen)
        if stats is not None:
            stats.examined += int(idx.size)
        keep = best.found & (best.detour_m <= cap)
        for q in np.flatnonzero(keep):
            t = int(idx[q])
            rows.append(
                (
                    int(best.detour_m[q]),
                    int(best.detour_s[q]),
                    int(best.price[q]),
                    int(fleet.ids[t]),
                    t,
                    int(best.leg_p[q]),
                    int(best.leg_d[q]),
                )
            )
        if len(rows) >= limit:
            rows.sort()
            del rows[limit:]
            tau = rows[-1][0]
        pos, chunk = stop, chunk * 2
    rows.sort()
    out = [
        Match(
            cargo=cargo.id,
            truck=tid,
            pickup_pos=lp + 1,
            delivery_pos=lg + 1,
            detour_m=dm,
            detour_s=ds,
            suggested_price_fen=price,
            first_leg=lp,
            last_leg=lg,
        )
        for dm, ds, price, tid, _, lp, lg in rows[:limit]
    ]
    if stats is not None:
        stats.matches += len(out)
    return out


def _fleet(trucks: Sequence[TruckRoute] | Fleet, travel: Travel) -> Fleet:
    if isinstance(trucks, Fleet):
        if trucks.travel is not travel:
            raise ValueError("the fleet was prepared with another travel model")
        return trucks
    return prepare(trucks, travel)


# ---- public entry points ---------------------------------------------------------------------
def best_insertion(
    cargo: Cargo,
    truck: TruckRoute,
    travel: Travel,
    *,
    slack_s: float = DEFAULT_SLACK_S,
    min_price_fen: int = MIN_PRICE_FEN,
) -> Match | None:
    """The exact best insertion of ``cargo`` into ``truck`` (vectorised over positions)."""
    if not _compatible(cargo, truck):
        return None
    fleet = prepare([truck], travel)
    best = _evaluate(fleet, np.array([0]), cargo, slack_s, min_price_fen)
    if not best.found[0]:
        return None
    lp, lg = int(best.leg_p[0]), int(best.leg_d[0])
    return Match(
        cargo=cargo.id,
        truck=truck.id,
        pickup_pos=lp + 1,
        delivery_pos=lg + 1,
        detour_m=int(best.detour_m[0]),
        detour_s=int(best.detour_s[0]),
        suggested_price_fen=int(best.price[0]),
        first_leg=lp,
        last_leg=lg,
    )


def match_cargo(
    cargo: Cargo,
    trucks: Sequence[TruckRoute] | Fleet,
    travel: Travel,
    *,
    limit: int = 10,
    prefilter_km: float | None = DEFAULT_PREFILTER_KM,
    slack_s: float = DEFAULT_SLACK_S,
    min_price_fen: int = MIN_PRICE_FEN,
    stats: MatchStats | None = None,
) -> list[Match]:
    """The ``limit`` best trucks for a cargo, ranked by (detour m, detour s, price, id).

    Exactly the brute-force ranking of all trucks, restricted to detours of at most
    ``prefilter_km`` (``None``: no cut). Pass a :class:`Fleet` from :func:`prepare` to
    match many cargos against the same postings."""
    fleet = _fleet(trucks, travel)
    return _match_prepared(
        cargo,
        fleet,
        limit=limit,
        prefilter_km=prefilter_km,
        slack_s=slack_s,
        min_price_fen=min_price_fen,
        stats=stats,
    )


def match_all(
    cargos: Sequence[Cargo],
    trucks: Sequence[TruckRoute] | Fleet,
    travel: Travel,
    *,
    limit: int = 10,
    prefilter_km: float | None = DEFAULT_PREFILTER_KM,
    slack_s: float = DEFAULT_SLACK_S,
    min_price_fen: int = MIN_PRICE_FEN,
    stats: MatchStats | None = None,
) -> dict[int, list[Match]]:
    """Every open cargo against all open capacity: cargo id -> its ranked matches.

    Each cargo is ranked independently (no capacity is booked between cargos)."""
    fleet = _fleet(trucks, travel)
    return {
        c.id: _match_prepared(
            c,
            fleet,
            limit=limit,
            prefilter_km=prefilter_km,
            slack_s=slack_s,
            min_price_fen=min_price_fen,
            stats=stats,
        )
        for c in cargos
    }


__all__ = [
    "DEFAULT_PREFILTER_KM",
    "DEFAULT_SLACK_S",
    "MIN_PRICE_FEN",
    "TEMPERATURE_CLASSES",
    "Cargo",
    "Fleet",
    "HaversineTravel",
    "Match",
    "MatchStats",
    "NetworkTravel",
    "Travel",
    "TruckRoute",
    "best_insertion",
    "brute_force",
    "match_all",
    "match_cargo",
    "needs_cold",
    "prepare",
    "suggested_price",
    "to_seconds",
]
