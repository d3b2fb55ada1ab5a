"""Snapping points onto the network with a spatial index, and the prefecture boundary."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.ops import unary_union

from routing.errors import InputError
from routing.network.datafiles import data_dir
from routing.network.geometry import LocalProjection, haversine_m

# The bundled county polygons are simplified; a point this close outside still counts as in.
BOUNDARY_TOLERANCE_M = 1_000.0


@dataclass(frozen=True)
class Boundary:
    """The prefecture outline (union of its county polygons) with a prepared geometry."""

    geometry: shapely.Geometry
    counties: dict[str, shapely.Geometry]

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return np.asarray(shapely.contains_xy(self.geometry, np.asarray(lon), np.asarray(lat)))

    def county_of(self, lon: float, lat: float) -> str | None:
        pt = shapely.Point(lon, lat)
        for code, geom in self.counties.items():
            if geom.contains(pt):
                return code
        return None


def boundary_path() -> Path:
    return data_dir() / "county_boundaries.geojson"


@lru_cache(maxsize=2)
def load_boundary(path: Path | None = None) -> Boundary:
    """Read the county polygons; the prefecture is their union, widened by the tolerance."""
    path = path or boundary_path()
    doc = json.loads(path.read_text(encoding="utf-8"))
    counties = {f["properties"]["code"]: shape(f["geometry"]) for f in doc["features"]}
    union = unary_union(list(counties.values()))
    deg = BOUNDARY_TOLERANCE_M / 111_000.0
    widened = union.buffer(deg)
    shapely.prepare(widened)
    return Boundary(geometry=widened, counties=counties)


def check_inside(
    lon: np.ndarray, lat: np.ndarray, labels: list[str], boundary: Boundary | None = None
) -> None:
    """Raise InputError naming the first point that lies outside the prefecture."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    bad_value = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad_value.any():
        i = int(np.flatnonzero(bad_value)[0])
        raise InputError(labels[i], "coordinates must be finite numbers")
    inside = (boundary or load_boundary()).contains(lon, lat)
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        raise InputError(
            labels[i],
            f"point ({lon[i]:.6f}, {lat[i]:.6f}) lies outside Chuxiong prefecture "
            "(expected [lon, lat] in WGS84)",
        )


class NodeIndex:
    """KD-tree over the network's nodes (in a local metric projection)."""

    def __init__(self, node_lon: np.ndarray, node_lat: np.ndarray) -> None:
        from scipy.spatial import cKDTree

        self.node_lon, self.node_lat = node_lon, node_lat
        lat0 = float(np.mean(node_lat)) if len(node_lat) else 25.0
        self.proj = LocalProjection(lat0)
        self.tree = cKDTree(self.proj(node_lon, node_lat))

    def nearest(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(node index, great-circle distance m) of the nearest node to each point."""
        lon, lat = np.atleast_1d(lon), np.atleast_1d(lat)
        if self.tree.n == 0:
            raise InputError("network", "the network has no nodes")
        _, idx = self.tree.query(self.proj(lon, lat))
        idx = np.asarray(idx, dtype=np.int64)
        dist = haversine_m(lon, lat, self.node_lon[idx], self.node_lat[idx])
        return idx, np.atleast_1d(dist)
