"""The bundled *modeled* road network of Chuxiong, built from published facts.

No OpenStreetMap extract of the prefecture can be shipped, so the bundled graph is a model:

- nodes are the located places (places sharing a point share a node);
- trunk links join every county seat to the prefecture city and to the seats of the
  counties it borders; county links join each township to its county seat; township links
  join neighbouring townships (Gabriel graph of the township points, capped in length,
  crossing county lines where counties touch); village links join a village to its
  township;
- a link's length is the published road distance where one exists
  (``published_distances.csv``), otherwise great-circle length x a circuity factor
  calibrated on those published distances, one for trunk and one for county roads;
- **trunk links follow the real roads** where the bundled OpenStreetMap trunk roads
  (``osm_trunk.json``, :mod:`routing.network.osm_trunk`) join their two seats: the link's
  geometry is the OSM path, and a link without a published distance takes its length from
  that path (``osm``): the OSM metres x a factor calibrated on the trunk links whose
  published distance is the road OSM has (the package's rounded nodes and straight links
  run short on mountain roads), plus the snaps to the OSM roads x the trunk circuity. A
  published distance stays the length where there is one, and is the check: an OSM path
  that disagrees by more than ``OSM_AGREES`` with it (or, without one, with the modeled
  length) takes a road the direct one is missing from the extract (the 2020 楚姚高速, for
  one), so that link keeps its straight line and its published or modeled length. Every
  comparison is in the network's meta (``codist network info``).

Every edge records whether its length is ``published``, ``osm`` or ``modeled``; the
geometry of a link not on the OSM roads is a straight line between its end points.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from routing.errors import InputError
from routing.network.datafiles import data_dir
from routing.network.geometry import LocalProjection, haversine_m
from routing.network.graph import LENGTH_SOURCES, Place, RoadNetwork, edges_from_lists
from routing.network.osm_trunk import TrunkPath, load_osm_trunk, trunk_path
from routing.network.snap import load_boundary
from routing.network.speeds import SpeedTable, load_speeds

BUILDER_VERSION = "modeled-2"  # 2: trunk links on the OSM trunk roads
# A trunk link's OSM path agrees with its published (else modeled) length when the calibrated
# OSM length is within this share of it; a published road shorter than 0.95 x the OSM path is a road
# the OSM extract lacks (not a measure of the polyline's shortfall), left out of calibration.
OSM_AGREES = 0.25
OSM_SAME_ROAD = (0.95, 1.6)
# Neighbouring townships farther apart than this (straight line) get no direct link.
TOWNSHIP_LINK_CAP_M = 40_000.0
DESCRIPTION = (
    "MODELED road network of Chuxiong prefecture: built from published place coordinates, "
    "published road distances and, for the trunk links between the warehouse and the county "
    "hubs, the OpenStreetMap trunk roads where they agree with the published figures (no "
    "full OpenStreetMap extract of the prefecture is available). Link lengths are published "
    "road distances where known, else the OSM road's calibrated length, else great-circle "
    "length x a calibrated circuity factor; links off the OSM roads are straight lines."
)


def published_distances_path() -> Path:
    return data_dir() / "published_distances.csv"


@dataclass(frozen=True)
class PublishedDistance:
    from_id: str
    to_id: str
    road_m: float
    kind: str
    use_as_link: bool
    source_url: str


def load_published_distances(path: Path | None = None) -> list[PublishedDistance]:
    path = path or published_distances_path()
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for line, r in enumerate(rows, start=2):
        try:
            km = float(r["road_km"])
        except (KeyError, ValueError):
            raise InputError(f"{path.name} line {line} road_km", "not a number") from None
        out.append(
            PublishedDistance(
                from_id=r["from_id"],
                to_id=r["to_id"],
                road_m=km * 1000.0,
                kind=r["kind"],
                use_as_link=r.get("use_as_link", "1") == "1",
                source_url=r.get("source_url", ""),
            )
        )
    return out


def _spread(values: list[float]) -> dict[str, float]:
    """Median, quartiles and range of circuity ratios (rounded for reports)."""
    if not values:
        return {}
    q = np.percentile(values, [25, 50, 75]) if len(values) > 1 else [values[0]] * 3
    return {
        "n": len(values),
        "median": round(float(q[1]), 3),
        "q1": round(float(q[0]), 3),
        "q3": round(float(q[2]), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def _gabriel_pairs(points_m: np.ndarray) -> set[tuple[int, int]]:
    """Gabriel edges: Delaunay edges whose diametral circle holds no other point."""
    from scipy.spatial import Delaunay

    n = len(points_m)
    if n < 2:
        return set()
    if n == 2:
        return {(0, 1)}
    tri = Delaunay(points_m)
    candidates: set[tuple[int, int]] = set()
    for simplex in tri.simplices:
        for a in range(3):
            i, j = sorted((int(simplex[a]), int(simplex[(a + 1) % 3])))
            candidates.add((i, j))
    out = set()
    for i, j in candidates:
        mid = (points_m[i] + points_m[j]) / 2
        r2 = np.sum((points_m[i] - mid) ** 2)
        d2 = np.sum((points_m - mid) ** 2, axis=1)
        d2[[i, j]] = np.inf
        if not np.any(d2 < r2 * (1 - 1e-9)):
            out.add((i, j))
    return out


def neighbouring_counties(codes: list[str]) -> set[tuple[str, str]]:
    """Pairs of counties whose polygons touch (a 200 m buffer absorbs simplification)."""
    geoms = load_boundary().counties
    grown = {c: geoms[c].buffer(0.002) for c in codes if c in geoms}
    return {(a, b) for a in grown for b in grown if a < b and grown[a].intersects(grown[b])}


_LINK_RANK = ("trunk", "county", "township", "village")  # road classes, highest first
# an edge for edges_from_lists: (u, v, length m, class, length source, oneway, lon/lat shape)
_EdgeRow = tuple[int, int, float, int, int, bool, np.ndarray]


def _great_circle_m(lon: np.ndarray, lat: np.ndarray, a: int, b: int) -> float:
    """Great-circle distance in metres between nodes a and b."""
    return float(haversine_m(lon[a], lat[a], lon[b], lat[b]))


def _place_nodes(places: list[Place]) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(node lon, node lat, node of each located place id): one node per distinct located
    point (coordinates rounded to 1e-6 degree), in place order."""
    node_of_point: dict[tuple[float, float], int] = {}
    node_lon: list[float] = []
    node_lat: list[float] = []
    place_node: dict[str, int] = {}
    for p in places:
        if p.lon is None or p.lat is None:
            continue
        key = (round(p.lon, 6), round(p.lat, 6))
        if key not in node_of_point:
            node_of_point[key] = len(node_lon)
            node_lon.append(p.lon)
            node_lat.append(p.lat)
        place_node[p.id] = node_of_point[key]
    return np.array(node_lon), np.array(node_lat), place_node


@dataclass
class _Published:
    """The usable published road distances: metres by node pair (every value kept), road /
    great-circle ratios of trunk (seat to seat) and county pairs, and the rejected ones."""

    values: dict[tuple[int, int], list[float]]
    ratios: dict[str, list[float]]
    rejected: list[str]


def _published_by_pair(
    published: list[PublishedDistance],
    by_id: dict[str, Place],
    place_node: dict[str, int],
    lon: np.ndarray,
    lat: np.ndarray,
) -> _Published:
    """Published distances between located places, by node pair; a distance shorter than the
    great circle, or between places sharing a node, is rejected (and reported)."""
    values: dict[tuple[int, int], list[float]] = defaultdict(list)
    ratios: dict[str, list[float]] = {"trunk": [], "county": []}
    rejected: list[str] = []
    for d in published:
        if not d.use_as_link or d.from_id not in place_node or d.to_id not in place_node:
            continue
        a, b = place_node[d.from_id], place_node[d.to_id]
        straight = _great_circle_m(lon, lat, a, b)
        if a == b or d.road_m < straight:
            rejected.append(f"{d.from_id}-{d.to_id} {d.road_m / 1000:.1f} km")
            continue
        values[(min(a, b), max(a, b))].append(d.road_m)
        both_seats = all(by_id[x].kind in ("hub", "warehouse") for x in (d.from_id, d.to_id))
        ratios["trunk" if both_seats else "county"].append(d.road_m / straight)
    return _Published(values, ratios, rejected)


def _circuity_factors(speeds: SpeedTable, ratios: dict[str, list[float]]) -> dict[str, float]:
    """Road length / great-circle length per road class: the speed table's setting, or when
    "calibrated" the median published ratio (trunk: of trunk pairs if any; else county
    pairs; 1.4 without any)."""
    factors: dict[str, float] = {}
    for cls in ("trunk", "county", "township", "village", "access"):
        setting = speeds.circuity.get(cls, "calibrated")
        if setting == "calibrated":
            sample = ratios["trunk"] if cls == "trunk" and ratios["trunk"] else ratios["county"]
            factors[cls] = float(np.median(sample)) if sample else 1.4
        else:
            factors[cls] = float(setting)
    return factors


class _Links:
    """The modeled links by node pair (low, high): (road class, why it exists)."""

    def __init__(self, place_node: dict[str, int]) -> None:
        self.place_node = place_node
        self.edges: dict[tuple[int, int], tuple[str, str]] = {}

    def link(self, a_id: str, b_id: str, cls: str, why: str) -> None:
        """Link two located places at distinct nodes; a pair linked twice keeps the higher
        road class (e.g. seat-seat and Gabriel), the first reason on a tie."""
        if a_id not in self.place_node or b_id not in self.place_node:
            return
        a, b = self.place_node[a_id], self.place_node[b_id]
        if a == b:
            return
        key = (min(a, b), max(a, b))
        if key not in self.edges or _LINK_RANK.index(cls) < _LINK_RANK.index(self.edges[key][0]):
            self.edges[key] = (cls, why)


def _trunk_links(places: list[Place], links: _Links) -> dict[str, str]:
    """Trunk links: every county seat to the prefecture city (the warehouse) and to the seats
    of the counties it borders. Returns the seat's place id by county code."""
    warehouse = next(p for p in places if p.kind == "warehouse")
    seat_of: dict[str, str] = {warehouse.county_code: warehouse.id}
    for p in places:
        if p.kind == "hub":
            seat_of[p.county_code] = p.id
    for seat in seat_of.values():
        if seat != warehouse.id:
            links.link(seat, warehouse.id, "trunk", "county seat - prefecture city")
    for ca, cb in neighbouring_counties(sorted(seat_of)):
        links.link(seat_of[ca], seat_of[cb], "trunk", f"neighbouring county seats {ca}-{cb}")
    return seat_of


def _township_links(
    places: list[Place], links: _Links, seat_of: dict[str, str], lat: np.ndarray
) -> list[Place]:
    """County links (township to its county seat) and township links (Gabriel neighbours no
    farther than TOWNSHIP_LINK_CAP_M in a straight line). Returns the located townships."""
    towns = [p for p in places if p.kind == "township" and p.id in links.place_node]
    for t in towns:
        if t.county_code in seat_of:
            links.link(t.id, seat_of[t.county_code], "county", "township - its county seat")
    proj = LocalProjection(float(lat.mean()) if len(lat) else 25.0)
    if towns:
        pts = proj(np.array([t.lon for t in towns]), np.array([t.lat for t in towns]))
        for i, j in _gabriel_pairs(pts):
            if np.hypot(*(pts[i] - pts[j])) <= TOWNSHIP_LINK_CAP_M:
                links.link(towns[i].id, towns[j].id, "township", "neighbouring townships")
    return towns


def _village_links(
    places: list[Place], links: _Links, towns: list[Place], lon: np.ndarray, lat: np.ndarray
) -> None:
    """Village links: each located village to its township, or when that has no point to the
    nearest (great circle) located township of its county (of any county if none)."""
    place_node = links.place_node
    town_by_code = {t.id: t for t in towns}
    for v in places:
        if v.kind != "village" or v.id not in place_node:
            continue
        parent = town_by_code.get(v.township_code)
        if parent is None:
            # The village's own township has no point: join the nearest located township
            # of the same county instead, and say so.
            same = [t for t in towns if t.county_code == v.county_code] or towns
            dist = [_great_circle_m(lon, lat, place_node[v.id], place_node[t.id]) for t in same]
            parent = same[int(np.argmin(dist))]
            links.link(v.id, parent.id, "village", "village - nearest located township")
        else:
            links.link(v.id, parent.id, "village", "village - its township")


@dataclass
class _RealTrunk:
    """The trunk links on OSM roads: by node pair (low, high) the length to use (None: the
    published one) and the geometry; the calibration and the check against published."""

    links: dict[tuple[int, int], tuple[float | None, np.ndarray]]
    factor: float
    check: list[dict[str, Any]]
    attribution: str


def _real_trunk(
    edges: dict[tuple[int, int], tuple[str, str]],
    pub_values: dict[tuple[int, int], list[float]],
    factors: dict[str, float],
    node_ids: dict[int, str],
    lon: np.ndarray,
    lat: np.ndarray,
) -> _RealTrunk | None:
    """OSM paths for the trunk links (module docstring), or None without the OSM file."""
    osm = load_osm_trunk()
    if osm is None:
        return None
    paths: dict[tuple[int, int], TrunkPath] = {}
    for (a, b), (cls, _why) in sorted(edges.items()):
        if cls == "trunk":
            found = trunk_path(osm, (float(lon[a]), float(lat[a])), (float(lon[b]), float(lat[b])))
            if found is not None:
                paths[(a, b)] = found
    snap_factor = factors["trunk"]
    samples = []
    for pair, path in paths.items():
        if pair in pub_values and path.road_m > 0:
            ratio = min(pub_values[pair]) / (path.road_m + path.snap_m)
            if OSM_SAME_ROAD[0] <= ratio <= OSM_SAME_ROAD[1]:
                samples.append((min(pub_values[pair]) - snap_factor * path.snap_m) / path.road_m)
    factor = max(1.0, float(np.median(samples))) if samples else 1.0
    out = _RealTrunk({}, round(factor, 3), [], osm.attribution)
    for (a, b), path in paths.items():
        osm_m = max(
            factor * path.road_m + snap_factor * path.snap_m, _great_circle_m(lon, lat, a, b)
        )
        published = min(pub_values[(a, b)]) if (a, b) in pub_values else None
        modeled = _great_circle_m(lon, lat, a, b) * factors["trunk"]
        expected = published if published is not None else modeled
        agrees = abs(osm_m / expected - 1) <= OSM_AGREES
        if agrees:
            out.links[(a, b)] = (None if published is not None else osm_m, path.coords)
        used = "published" if published is not None else "osm" if agrees else "modeled"
        out.check.append(
            {
                "from": node_ids[a],
                "to": node_ids[b],
                "published_km": None if published is None else round(published / 1000, 1),
                "modeled_km": round(modeled / 1000, 1),
                "osm_road_km": round(path.road_m / 1000, 1),
                "snap_km": round(path.snap_m / 1000, 1),
                "osm_km": round(osm_m / 1000, 1),
                "ratio": round(osm_m / expected, 3),
                "used": used,
                "geometry": "osm" if agrees else "straight",
            }
        )
    return out


def _edge_rows(
    edges: dict[tuple[int, int], tuple[str, str]],
    pub_values: dict[tuple[int, int], list[float]],
    factors: dict[str, float],
    speeds: SpeedTable,
    lon: np.ndarray,
    lat: np.ndarray,
    real: _RealTrunk | None = None,
) -> tuple[list[_EdgeRow], int]:
    """(rows for ``edges_from_lists``, number of published lengths): per link in node-pair
    order its length in metres (the shortest published figure, else the OSM path's, else
    great circle x the class's circuity factor), class, length source and geometry (the
    OSM path, else a straight line)."""
    edge_rows: list[_EdgeRow] = []
    n_published = 0
    on_osm = real.links if real is not None else {}
    for (a, b), (cls, _why) in sorted(edges.items()):
        osm_length, geom = on_osm.get(
            (a, b), (None, np.array([[lon[a], lat[a]], [lon[b], lat[b]]]))
        )
        if (a, b) in pub_values:
            # Sources disagree at times (older figures predate new roads): the shortest
            # published figure is today's road.
            length = min(pub_values[(a, b)])
            source = LENGTH_SOURCES.index("published")
            n_published += 1
        elif osm_length is not None:
            length = osm_length
            source = LENGTH_SOURCES.index("osm")
        else:
            length = _great_circle_m(lon, lat, a, b) * factors[cls]
            source = LENGTH_SOURCES.index("modeled")
        edge_rows.append((a, b, length, speeds.class_index(cls), source, False, geom))
    return edge_rows, n_published


def build_modeled_network(
    places: list[Place],
    published: list[PublishedDistance] | None = None,
    speeds: SpeedTable | None = None,
) -> RoadNetwork:
    """Build the modeled network from places (with coordinates) and published distances."""
    speeds = speeds or load_speeds()
    published = published if published is not None else load_published_distances()
    by_id = {p.id: p for p in places}
    lon_arr, lat_arr, place_node = _place_nodes(places)
    pub = _published_by_pair(published, by_id, place_node, lon_arr, lat_arr)
    factors = _circuity_factors(speeds, pub.ratios)

    links = _Links(place_node)
    seat_of = _trunk_links(places, links)
    towns = _township_links(places, links, seat_of, lat_arr)
    _village_links(places, links, towns, lon_arr, lat_arr)
    node_ids = {}
    for p in places:  # the node's name in reports: its warehouse or hub, else its first place
        if p.id in place_node and (
            place_node[p.id] not in node_ids or p.kind in ("hub", "warehouse")
        ):
            node_ids[place_node[p.id]] = p.id
    real = _real_trunk(links.edges, pub.values, factors, node_ids, lon_arr, lat_arr)
    edge_rows, n_published = _edge_rows(
        links.edges, pub.values, factors, speeds, lon_arr, lat_arr, real
    )

    snapped = tuple(
        replace(p, node=place_node[p.id], snap_m=0.0) if p.id in place_node else p for p in places
    )
    meta: dict[str, Any] = {
        "source": "modeled",
        "builder": BUILDER_VERSION,
        "description": DESCRIPTION,
        "circuity": {
            "factors": {k: round(v, 3) for k, v in factors.items()},
            "trunk_sample": _spread(pub.ratios["trunk"]),
            "county_sample": _spread(pub.ratios["county"]),
        },
        "published_links": n_published,
        "rejected_published": pub.rejected,
        "township_link_cap_m": TOWNSHIP_LINK_CAP_M,
    }
    if real is not None:
        on_osm = [r for r in real.check if r["geometry"] == "osm"]
        meta["osm_trunk"] = {
            "attribution": real.attribution,
            "factor": real.factor,
            "links_on_osm": len(on_osm),
            "km_on_osm": round(
                sum(r["published_km"] if r["used"] == "published" else r["osm_km"] for r in on_osm),
                1,
            ),
            "links": real.check,
        }
    return edges_from_lists(lon_arr, lat_arr, edge_rows, speeds.classes, snapped, meta)


def modeled_statistics(network: RoadNetwork) -> dict[str, Any]:
    """Edge counts by class and by length source, and km by length source, for reports."""
    by_class: dict[str, int] = defaultdict(int)
    by_source: dict[str, int] = defaultdict(int)
    km: dict[str, float] = defaultdict(float)
    rows = zip(
        network.edge_class.tolist(),
        network.edge_length_source.tolist(),
        network.edge_length_m.tolist(),
        strict=True,
    )
    for c, s, m in rows:
        by_class[network.classes[c]] += 1
        by_source[LENGTH_SOURCES[s]] += 1
        km[LENGTH_SOURCES[s]] += m / 1000.0
    return {
        "edges_by_class": dict(by_class),
        "edges_by_length_source": dict(by_source),
        "km_by_length_source": {k: round(v, 1) for k, v in km.items()},
    }
