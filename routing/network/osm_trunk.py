"""Real trunk roads for the modeled network's warehouse-hub and hub-hub links.

``data/road_network/osm_trunk.json`` holds the expressways, national and provincial roads
of the prefecture's box from OpenStreetMap (© OpenStreetMap contributors, ODbL 1.0, via the
PyPI package ``scgraph-data`` 2.0.0; derived once by ``scripts/derive_osm_trunk.py``):
nodes rounded to 0.001° and straight links between them, lengths in metres.

For a trunk link of the modeled network (a county seat to the prefecture city or to a
neighbouring seat) :func:`trunk_path` snaps both ends to the nearest OSM node and takes the
shortest path: its geometry is the real road. Its length needs care: the rounded nodes and
straight links run short on winding mountain roads, so the builder calibrates a factor on
the links that have a published road distance, and keeps the published distance as the
check (``modeled.py`` says which length a link uses).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.network.datafiles import data_dir
from routing.network.geometry import haversine_m

__all__ = ["OsmTrunk", "TrunkPath", "load_osm_trunk", "osm_trunk_path", "trunk_path"]

# An end farther than this from every OSM node gets no OSM path (the link stays modeled).
MAX_SNAP_M = 15_000.0


def osm_trunk_path() -> Path:
    return data_dir() / "osm_trunk.json"


@dataclass(frozen=True, eq=False)
class OsmTrunk:
    """The OSM trunk graph: node coordinates and a symmetric sparse matrix of link metres."""

    lon: np.ndarray
    lat: np.ndarray
    graph: csr_matrix
    attribution: str
    licence: str


@dataclass(frozen=True)
class TrunkPath:
    """The real road between two points: metres along OSM links, metres of the two straight
    snaps to the network (both ends together), and the geometry from end to end."""

    road_m: float
    snap_m: float
    coords: np.ndarray  # [[lon, lat], ...], the two end points included


@lru_cache(maxsize=2)
def load_osm_trunk(path: Path | None = None) -> OsmTrunk | None:
    """The bundled OSM trunk roads, or None when the file is absent."""
    path = path or osm_trunk_path()
    if not path.exists():
        return None
    doc = json.loads(path.read_text(encoding="utf-8"))
    coords = np.asarray(doc["nodes"], dtype=float)
    edges = np.asarray(doc["edges"], dtype=float).reshape(-1, 3)
    u, v, m = edges[:, 0].astype(int), edges[:, 1].astype(int), edges[:, 2]
    n = len(coords)
    graph = csr_matrix(
        (np.concatenate([m, m]), (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n, n)
    )
    return OsmTrunk(coords[:, 0], coords[:, 1], graph, doc["attribution"], doc["licence"])


def _nearest(osm: OsmTrunk, lon: float, lat: float) -> tuple[int, float]:
    d = haversine_m(lon, lat, osm.lon, osm.lat)
    i = int(np.argmin(d))
    return i, float(d[i])


def trunk_path(osm: OsmTrunk, a: tuple[float, float], b: tuple[float, float]) -> TrunkPath | None:
    """The OSM road from point ``a`` to point ``b`` ([lon, lat]), or None when an end is
    more than MAX_SNAP_M from the OSM roads or no OSM road joins the two."""
    ia, da = _nearest(osm, *a)
    ib, db = _nearest(osm, *b)
    if max(da, db) > MAX_SNAP_M:
        return None
    dist, pred = dijkstra(osm.graph, directed=False, indices=ia, return_predecessors=True)
    if not np.isfinite(dist[ib]):
        return None
    nodes = [ib]
    while nodes[-1] != ia:
        nodes.append(int(pred[nodes[-1]]))
    nodes.reverse()
    middle = np.column_stack([osm.lon[nodes], osm.lat[nodes]])
    coords = np.vstack([np.asarray([a], dtype=float), middle, np.asarray([b], dtype=float)])
    return TrunkPath(float(dist[ib]), da + db, coords)
