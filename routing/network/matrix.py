"""Travel-time and distance matrices and single shortest routes on the road network.

Waypoints are place ids or ``[lon, lat]`` points. A point is checked against the prefecture
boundary, snapped to its nearest node, and reaches it by an *access leg* (straight-line
length x the access circuity, at the access-class speed), so off-network origins are
costed, not ignored.

Matrices use a contraction hierarchy per (network, profile), built once and cached on
disk, and the bucket many-to-many query: one upward search per source and target rather
than one graph-wide Dijkstra per source. Durations are seconds along the fastest route;
distances are the metres of that same route.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from routing.errors import InputError
from routing.network.datafiles import cache_dir, file_digest
from routing.network.geometry import linestring
from routing.network.graph import RoadNetwork
from routing.network.snap import check_inside
from routing.network.speeds import SpeedTable, load_speeds, speeds_path

if TYPE_CHECKING:
    from routing.network.ch import ContractionHierarchy

Location = str | tuple[float, float] | Sequence[float]


@dataclass(frozen=True)
class Waypoint:
    """A resolved location: the node it enters the network at and its access leg."""

    label: str
    lon: float
    lat: float
    node: int
    access_m: float  # straight-line metres from the point to the node


@dataclass(frozen=True)
class Matrix:
    """Integer travel durations (s) and distances (m); -1 marks an unreachable pair."""

    durations_s: np.ndarray
    distances_m: np.ndarray

    def reachable(self) -> np.ndarray:
        return self.durations_s >= 0


@dataclass(frozen=True)
class Route:
    """One shortest route with its road geometry."""

    distance_m: int
    duration_s: int
    nodes: list[int]
    geometry: dict[str, Any]
    edges: tuple[int, ...] = ()  # the road segments driven, in order

    def as_dict(self) -> dict[str, Any]:
        return {
            "distance_m": self.distance_m,
            "duration_s": self.duration_s,
            "geometry": self.geometry,
        }


# ---- waypoints ---------------------------------------------------------------------------
def parse_location(text: str) -> Location:
    """A place id, or ``lon,lat`` (two numbers) as a point."""
    parts = text.split(",")
    if len(parts) == 2:
        try:
            return (float(parts[0]), float(parts[1]))
        except ValueError:
            pass
    return text.strip()


def resolve(
    network: RoadNetwork, locations: Sequence[Location], labels: Sequence[str] | None = None
) -> list[Waypoint]:
    """Resolve place ids and ``[lon, lat]`` points to waypoints (errors name the location)."""
    labels = list(labels) if labels is not None else [str(loc) for loc in locations]
    out: list[Waypoint | None] = [None] * len(locations)
    point_ix: list[int] = []
    for i, loc in enumerate(locations):
        if isinstance(loc, str):
            try:
                place = network.place(loc)
            except InputError as e:
                raise InputError(labels[i], e.reason) from None
            if not place.located or place.lon is None or place.lat is None:
                raise InputError(labels[i], f"place {loc} ({place.name_zh}) has no coordinates")
            out[i] = Waypoint(labels[i], place.lon, place.lat, place.node, 0.0)
        else:
            if len(loc) != 2:
                raise InputError(labels[i], "a location is [lon, lat]")
            point_ix.append(i)
    if point_ix:
        lon = np.array([float(locations[i][0]) for i in point_ix])
        lat = np.array([float(locations[i][1]) for i in point_ix])
        check_inside(lon, lat, [labels[i] for i in point_ix])
        nodes, dist = network.node_index.nearest(lon, lat)
        for k, i in enumerate(point_ix):
            out[i] = Waypoint(labels[i], lon[k], lat[k], int(nodes[k]), float(dist[k]))
    return [w for w in out if w is not None]


# ---- access legs -------------------------------------------------------------------------
def _access_costs(
    network: RoadNetwork, waypoints: Sequence[Waypoint], profile: str, speeds: SpeedTable
) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, metres) of each waypoint's access leg."""
    access = np.array([w.access_m for w in waypoints], dtype=float)
    circuity = float(network.meta.get("circuity", {}).get("factors", {}).get("access", 1.0))
    metres = access * circuity
    mps = speeds.speeds_mps(profile)[speeds.class_index("access")]
    seconds = metres / mps if mps > 0 else np.where(metres > 0, np.inf, 0.0)
    return seconds, metres


# ---- contraction hierarchies --------------------------------------------------------------
_hierarchies: dict[tuple[str, str], ContractionHierarchy] = {}


def _save_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a cache file through a temporary file of this process's own, then rename:
    processes building the same hierarchy at once never trip over each other."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def hierarchy(network: RoadNetwork, profile: str) -> ContractionHierarchy:
    """The contraction hierarchy for a profile, from memory, the disk cache, or built."""
    # Imported here: numba is heavy and most commands never need a matrix.
    from routing.network.ch import ContractionHierarchy, build_contraction_hierarchy

    speeds_digest = file_digest(speeds_path())
    key = (f"{network.digest}-{speeds_digest}", profile)
    if key in _hierarchies:
        return _hierarchies[key]
    path = cache_dir() / f"ch-{key[0]}-{profile}.npz" if network.digest else None
    ch: ContractionHierarchy | None = None
    if path is not None and path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                ch = ContractionHierarchy.from_arrays({k: z[k] for k in z.files})
        except (OSError, ValueError, KeyError):
            ch = None  # a damaged cache file is rebuilt
    if ch is None:
        tail, head, duration, length, _ = network.arc_costs(profile)
        ch = build_contraction_hierarchy(tail, head, duration, length, network.n_nodes)
        if path is not None:
            _save_atomically(path, ch.to_arrays())
    _hierarchies[key] = ch
    return ch


def travel_matrix(
    network: RoadNetwork,
    sources: Sequence[Waypoint],
    targets: Sequence[Waypoint] | None = None,
    profile: str = "van",
) -> Matrix:
    """Durations (s) and distances (m) from every source to every target."""
    from routing.network.ch import many_to_many

    speeds = load_speeds()
    speeds.profile_index(profile)
    targets = sources if targets is None else targets
    src = np.array([w.node for w in sources], dtype=np.int64)
    dst = np.array([w.node for w in targets], dtype=np.int64)
    dur, dist = many_to_many(hierarchy(network, profile), src, dst)
    s_sec, s_m = _access_costs(network, sources, profile, speeds)
    t_sec, t_m = _access_costs(network, targets, profile, speeds)
    dur = dur + s_sec[:, None] + t_sec[None, :]
    dist = dist + s_m[:, None] + t_m[None, :]
    # A waypoint to itself (same point, not merely the same node) costs nothing.
    s_xy = np.array([(w.lon, w.lat) for w in sources], dtype=float).reshape(-1, 2)
    t_xy = np.array([(w.lon, w.lat) for w in targets], dtype=float).reshape(-1, 2)
    same = (s_xy[:, None, 0] == t_xy[None, :, 0]) & (s_xy[:, None, 1] == t_xy[None, :, 1])
    dur[same] = 0.0
    dist[same] = 0.0
    ok = np.isfinite(dur)
    return Matrix(
        durations_s=np.where(ok, np.rint(np.where(ok, dur, 0)), -1).astype(np.int64),
        distances_m=np.where(ok, np.rint(np.where(ok, dist, 0)), -1).astype(np.int64),
    )


# ---- single routes -----------------------------------------------------------------------
def shortest_route(
    network: RoadNetwork, origin: Waypoint, destination: Waypoint, profile: str = "van"
) -> Route:
    """The fastest route between two waypoints, with its GeoJSON geometry."""
    from scipy.sparse.csgraph import dijkstra

    speeds = load_speeds()
    tail, head, duration, length, arc_edge = network.arc_costs(profile, speeds)
    graph = network.csr(profile)
    dist, pred = dijkstra(graph, indices=origin.node, return_predecessors=True)
    if not np.isfinite(dist[destination.node]):
        raise InputError(
            "destination", f"{destination.label} cannot be reached from {origin.label} by {profile}"
        )
    nodes = [destination.node]
    while nodes[-1] != origin.node:
        nodes.append(int(pred[nodes[-1]]))
    nodes.reverse()

    # The arc used between consecutive nodes: the fastest of any parallel arcs.
    n = network.n_nodes
    order = np.lexsort((duration, tail * n + head))
    keys = (tail * n + head)[order]
    total_s, total_m = 0.0, 0.0
    coords: list[np.ndarray] = [np.array([[origin.lon, origin.lat]])]
    driven: list[int] = []
    for a, b in itertools.pairwise(nodes):
        k = order[np.searchsorted(keys, a * n + b)]
        total_s += float(duration[k])
        total_m += float(length[k])
        edge = int(arc_edge[k])
        driven.append(edge)
        pts = network.edge_geometry(edge)
        if network.edge_u[edge] != a:
            pts = pts[::-1]
        coords.append(pts)
    coords.append(np.array([[destination.lon, destination.lat]]))
    a_sec, a_m = _access_costs(network, [origin, destination], profile, speeds)
    if origin.lon == destination.lon and origin.lat == destination.lat:
        a_sec, a_m = a_sec * 0, a_m * 0
    return Route(
        distance_m=round(total_m + float(a_m.sum())),
        duration_s=round(total_s + float(a_sec.sum())),
        nodes=nodes,
        geometry=linestring(np.vstack(coords)),
        edges=tuple(driven),
    )
