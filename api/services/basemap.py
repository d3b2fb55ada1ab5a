"""The console's base map, from bundled data only (no tile server): county outlines, the
road links of the network with their class, and the located depots and townships.

One GeoJSON FeatureCollection (WGS84 / CGCS2000 lon-lat, the same as the network), built
once per process: about 60 KB."""

from __future__ import annotations

import functools
import json
from typing import Any

from api.services.reference import network
from routing.network.places import data_dir, load_counties

__all__ = ["basemap", "counties"]

_SHOWN_KINDS = ("warehouse", "hub", "township", "village")


@functools.cache
def counties() -> tuple[dict[str, Any], ...]:
    """The prefecture's counties: code, Chinese, pinyin and English names, whether served."""
    return tuple(
        {
            "code": c["county_code"],
            "name_zh": c["name_zh"],
            "name_pinyin": c["name_pinyin"],
            "name_en": c["name_en"],
            "served": c.get("in_scope") == "1",
        }
        for c in load_counties()
    )


@functools.cache
def basemap() -> dict[str, Any]:
    features: list[dict[str, Any]] = []
    outlines = json.loads((data_dir() / "county_boundaries.geojson").read_text("utf-8"))
    for f in outlines["features"]:
        props = f["properties"]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "layer": "county",
                    "code": props.get("code"),
                    "name_zh": props.get("name"),
                    "name_en": props.get("name_en"),
                    "served": bool(props.get("in_scope")),
                },
                "geometry": f["geometry"],
            }
        )
    net = network()
    for e in range(net.n_edges):
        lo, hi = int(net.geom_offsets[e]), int(net.geom_offsets[e + 1])
        line = [
            [round(float(x), 5), round(float(y), 5)]
            for x, y in zip(net.geom_lon[lo:hi], net.geom_lat[lo:hi], strict=True)
        ]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "layer": "road",
                    "class": net.classes[int(net.edge_class[e])],
                    "km": round(float(net.edge_length_m[e]) / 1000, 1),
                },
                "geometry": {"type": "LineString", "coordinates": line},
            }
        )
    for p in net.places:
        if not p.located or p.kind not in _SHOWN_KINDS:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "layer": "place",
                    "id": p.id,
                    "kind": p.kind,
                    "name_zh": p.name_zh,
                    "name_pinyin": p.name_pinyin,
                    "county_code": p.county_code,
                },
                "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
            }
        )
    return {"type": "FeatureCollection", "features": features}
