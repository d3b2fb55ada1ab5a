"""Synthetic village service points, for scenarios and tests only.

Of the prefecture's 579 administrative villages only a handful have coordinates (see
data/road_network/SOURCES.md): the rest are located from the field (a courier's proposal
that a dispatcher accepts). To ask what village coverage changes (routes that reach 0, 50
or 100 % of the villages), a scenario needs points that do not exist yet; this module
invents them:

- **seeded**: the same network, share and seed give the same points;
- **inside the township's area**, as far as the bundled data can tell: the point lies
  between ``MIN_M`` and ``MAX_M`` from its township station (in a straight line), nearer to
  that station than to any other located township (a Voronoi cell stands in for the
  township boundary, which no open source here carries), and in the township's county
  (the bundled county outlines);
- **labelled**: every point's coordinate source is ``synthetic (seed N)``, so the summary
  counts them apart from real points (``village_coverage``), and they are returned as
  :class:`routing.network.PlaceFix` data for ``load_network(fixes=...)``: nothing is ever
  written to data/ or to the service's places.

Villages whose township has no point stay unlocated (they have no area to sit in).

:func:`station_fleet` gives a scenario the township stations' own small vehicles (motor
tricycles or vans, priced as the hubs' in data/dispatch/fleet.csv), so that the planner
can run a last mile from the stations to the villages (``dispatch.plan.lastmile``); the
bundled fleet has none.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from datetime import time

from dispatch.domain import VehicleSpec
from routing.errors import InputError
from routing.network import PlaceFix, RoadNetwork
from routing.network.geometry import haversine_m
from routing.network.graph import Place
from routing.network.snap import Boundary, load_boundary

__all__ = [
    "STATION_VEHICLES",
    "SYNTHETIC_PREFIX",
    "is_synthetic",
    "station_fleet",
    "synthetic_village_points",
]

SYNTHETIC_PREFIX = "synthetic"
MIN_M = 800.0  # a village service point is not at the township station itself
MAX_M = 4_500.0  # within reach of the station's roads (and of a network node when snapped)
CELL_SHARE = 0.45  # at most this share of the way to the nearest other township
TRIES = 40  # random points tried per village before it is left unlocated


def is_synthetic(place: Place) -> bool:
    """True when the place's coordinates were invented by this module."""
    return place.coord_source.startswith(SYNTHETIC_PREFIX)


def synthetic_village_points(
    network: RoadNetwork,
    share: float,
    seed: int = 0,
    counties: Iterable[str] | None = None,
) -> list[PlaceFix]:
    """Points for villages so that ``share`` (0..1) of each township's villages have one
    (villages already located count towards it; they are never moved)."""
    if not (isinstance(share, int | float) and math.isfinite(share) and 0 <= share <= 1):
        raise InputError("share", f"must be a number from 0 to 1, got {share!r}")
    wanted = set(counties) if counties is not None else None
    rng = random.Random(seed)
    boundary = load_boundary()
    towns = [p for p in network.places if p.kind == "township" and p.located]
    by_town: dict[str, list[Place]] = {}
    for p in network.places:
        if p.kind == "village" and (wanted is None or p.county_code in wanted):
            by_town.setdefault(p.township_code, []).append(p)
    source = f"{SYNTHETIC_PREFIX} (seed {seed})"
    fixes: list[PlaceFix] = []
    for town_id in sorted(by_town):
        villages = sorted(by_town[town_id], key=lambda p: p.id)
        town = network.place(town_id)
        if not town.located or town.lon is None or town.lat is None:
            continue
        target = math.ceil(share * len(villages) - 1e-9)
        missing = [v for v in villages if not v.located]
        rng.shuffle(missing)
        radius = _cell_radius(town, towns)
        for village in missing[: max(0, target - (len(villages) - len(missing)))]:
            point = _point_near(town, radius, rng, boundary)
            if point is not None:
                fixes.append(PlaceFix(village.id, point[0], point[1], source))
    return fixes


def _cell_radius(town: Place, towns: Sequence[Place]) -> float:
    """How far from its station a point may lie and still be nearer to it than to any
    other located township."""
    assert town.lon is not None and town.lat is not None
    nearest = min(
        (
            haversine_m(town.lon, town.lat, t.lon, t.lat)
            for t in towns
            if t.id != town.id and t.lon is not None and t.lat is not None
        ),
        default=2 * MAX_M / CELL_SHARE,
    )
    return max(MIN_M * 1.5, min(MAX_M, CELL_SHARE * float(nearest)))


def _point_near(
    town: Place, radius: float, rng: random.Random, boundary: Boundary
) -> tuple[float, float] | None:
    """A random point between MIN_M and ``radius`` from the township station, in its county."""
    assert town.lon is not None and town.lat is not None
    for _ in range(TRIES):
        bearing = rng.uniform(0.0, 2.0 * math.pi)
        # uniform over the ring's area, not its radius
        d = math.sqrt(rng.uniform(MIN_M**2, radius**2))
        dlat = d * math.cos(bearing) / 111_320.0
        dlon = d * math.sin(bearing) / (111_320.0 * math.cos(math.radians(town.lat)))
        lon, lat = round(town.lon + dlon, 6), round(town.lat + dlat, 6)
        if boundary.county_of(lon, lat) == town.county_code:
            return lon, lat
    return None


# The stations' vehicles a scenario may give them, priced as data/dispatch/fleet.csv prices
# the same vehicles at the hubs (ASSUMPTIONS.md): (profile, kg, m3, fixed, per km, per hour)
STATION_VEHICLES = {
    "motorbike": ("motorbike", 200, 1.0, 1000, 31, 2578, "0.2吨三轮摩托"),
    "van": ("van", 1200, 6.0, 5125, 87, 2578, "1.2吨厢式货车"),
}


def station_fleet(
    network: RoadNetwork, counties: Iterable[str], per_station: int = 1, kind: str = "motorbike"
) -> list[VehicleSpec]:
    """``per_station`` vehicles of ``kind`` (``STATION_VEHICLES``: a 0.2 t motor tricycle
    or a 1.2 t van; the hub operator's) at every located township station of ``counties``
    with villages, named as synthetic."""
    if kind not in STATION_VEHICLES:
        raise InputError("kind", f"one of {', '.join(STATION_VEHICLES)}, not {kind!r}")
    profile, kg, m3, fixed, per_km, per_hour, label = STATION_VEHICLES[kind]
    wanted = set(counties)
    with_villages = {p.township_code for p in network.places if p.kind == "village"}
    out = []
    for p in network.places:
        if p.kind != "township" or not p.located or p.county_code not in wanted:
            continue
        if p.id not in with_villages:
            continue
        for k in range(1, per_station + 1):
            out.append(
                VehicleSpec(
                    id=f"{p.id}-{kind[0].upper()}{k:02d}",
                    owner="HUB",
                    depot=p.id,
                    kind=kind,
                    profile=profile,
                    capacity_kg=kg,
                    capacity_m3=m3,
                    fixed_fen=fixed,
                    per_km_fen=per_km,
                    per_hour_fen=per_hour,
                    shift_start=time(8, 0),
                    shift_end=time(20, 0),
                    max_shift_h=12.0,
                    max_driving_h=8.0,
                    name=f"{p.name_zh}服务站 {label} {k} (synthetic)",
                )
            )
    return out
