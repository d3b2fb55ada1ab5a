"""Geodesy helpers: great-circle lengths, a local metric projection, GeoJSON lines."""

from __future__ import annotations

from typing import Any

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(
    lon1: np.ndarray | float,
    lat1: np.ndarray | float,
    lon2: np.ndarray | float,
    lat2: np.ndarray | float,
) -> np.ndarray:
    """Great-circle distance in metres (vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0))))


def polyline_length_m(lon: np.ndarray, lat: np.ndarray) -> float:
    """Length of a polyline along the sphere, metres."""
    if len(lon) < 2:
        return 0.0
    return float(haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:]).sum())


class LocalProjection:
    """Equirectangular projection to metres around a reference latitude.

    Accurate to well under 1 % over a prefecture (~250 km); used for nearest-neighbour
    search, where only the ranking of distances matters before the exact check.
    """

    def __init__(self, lat0_deg: float) -> None:
        self.kx = np.radians(1.0) * EARTH_RADIUS_M * np.cos(np.radians(lat0_deg))
        self.ky = np.radians(1.0) * EARTH_RADIUS_M

    def __call__(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return np.column_stack([np.asarray(lon) * self.kx, np.asarray(lat) * self.ky])


def linestring(coords: np.ndarray) -> dict[str, Any]:
    """GeoJSON LineString from [k, 2] lon/lat, 6 decimals (~0.1 m), repeats removed."""
    pts = np.round(np.asarray(coords, dtype=np.float64), 6)
    if len(pts) > 1:
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
        pts = pts[keep]
    if len(pts) == 1:
        pts = np.vstack([pts, pts])  # a LineString needs two positions
    return {"type": "LineString", "coordinates": pts.tolist()}
