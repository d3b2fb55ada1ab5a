"""Derive the prefecture's real trunk roads (expressways, national and provincial roads) from
the OpenStreetMap-derived world highway network of the PyPI package ``scgraph-data``
(2.0.0, ``world_highways``), and compare them with the published road distances.

Run once by a developer (the output is committed; nothing reads the package at run time)::

    .venv/bin/pip download --no-deps scgraph-data==2.0.0 -d /tmp/scg
    .venv/bin/python scripts/derive_osm_trunk.py /tmp/scg/scgraph_data-2.0.0-py3-none-any.whl

Writes ``data/road_network/osm_trunk.json`` (nodes [lon, lat] and edges [u, v, metres]
inside the prefecture's box plus a margin, the largest connected piece) and prints the
comparison of shortest paths on it with the published distances between the warehouse and
the county seats, and between county seats.

Data © OpenStreetMap contributors, available under the Open Database Licence 1.0 (ODbL):
https://www.openstreetmap.org/copyright. The derived file is a Derivative Database under
the ODbL: it keeps the attribution and is offered under the same licence.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

ROOT = Path(__file__).resolve().parents[1]
NET = ROOT / "data" / "road_network"
OUT = NET / "osm_trunk.json"
MODULE = "scgraph_data/world_highways.py"
MARGIN_DEG = 0.25  # roads just outside the prefecture still carry its trunk legs
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0 (via scgraph-data 2.0.0 world_highways)"


def _read_module(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as z:
        return z.read(MODULE).decode("utf-8")


def _box() -> tuple[float, float, float, float]:
    outlines = json.loads((NET / "county_boundaries.geojson").read_text("utf-8"))
    xs: list[float] = []
    ys: list[float] = []

    def walk(c: object) -> None:
        if isinstance(c, list) and c and isinstance(c[0], int | float):
            xs.append(float(c[0]))
            ys.append(float(c[1]))
        elif isinstance(c, list):
            for x in c:
                walk(x)

    for f in outlines["features"]:
        walk(f["geometry"]["coordinates"])
    return min(xs) - MARGIN_DEG, min(ys) - MARGIN_DEG, max(xs) + MARGIN_DEG, max(ys) + MARGIN_DEG


def _clip(text: str, box: tuple[float, float, float, float]) -> tuple[list, list]:
    """The nodes inside ``box`` and the edges between them (km -> m)."""
    nodes_text = text[text.index("nodes=") + 6 : text.index("\nworld_highways_geograph")]
    nodes = json.loads(nodes_text)  # [[lat, lon], ...]
    x0, y0, x1, y1 = box
    keep = {i for i, (lat, lon) in enumerate(nodes) if x0 <= lon <= x1 and y0 <= lat <= y1}
    graph_text = text[text.index("graph=") + 6 : text.index("\nnodes=")]
    pair = re.compile(r"(\d+): ([0-9.]+)")
    lengths: dict[tuple[int, int], int] = {}  # undirected: a link listed from either end
    for u, row in enumerate(graph_text[2:-2].split("}, {")):
        if u not in keep:
            continue
        for v_text, km in pair.findall(row):
            v = int(v_text)
            if v in keep and v != u:
                key = (min(u, v), max(u, v))
                lengths[key] = min(lengths.get(key, 10**12), round(float(km) * 1000))
    edges = [(u, v, m) for (u, v), m in sorted(lengths.items())]
    ids = sorted(keep)
    index = {old: new for new, old in enumerate(ids)}
    coords = [[nodes[i][1], nodes[i][0]] for i in ids]
    return coords, [(index[u], index[v], m) for u, v, m in edges]


def _largest_piece(coords: list, edges: list) -> tuple[list, list]:
    n = len(coords)
    u = np.array([e[0] for e in edges])
    v = np.array([e[1] for e in edges])
    m = coo_matrix((np.ones(len(edges)), (u, v)), shape=(n, n))
    _, labels = connected_components(m, directed=False)
    biggest = np.bincount(labels).argmax()
    ids = [i for i in range(n) if labels[i] == biggest]
    index = {old: new for new, old in enumerate(ids)}
    return [coords[i] for i in ids], [
        (index[a], index[b], w) for a, b, w in edges if a in index and b in index
    ]


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _compare(coords: list, edges: list) -> list[dict[str, object]]:
    """Shortest paths on the OSM trunk network between the places of the published
    warehouse/county-seat distances (each place snapped to its nearest node)."""
    places = {}
    with (NET / "places.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("lon") and row.get("lat"):
                places[row["id"]] = (float(row["lon"]), float(row["lat"]), row["name_zh"])
    n = len(coords)
    w = coo_matrix(
        ([e[2] for e in edges] * 2, ([e[0] for e in edges] + [e[1] for e in edges],
                                     [e[1] for e in edges] + [e[0] for e in edges])),
        shape=(n, n),
    ).tocsr()  # fmt: skip

    def snap(pid: str) -> tuple[int, float]:
        lon, lat, _ = places[pid]
        best = min(range(n), key=lambda i: _metres(lon, lat, *coords[i]))
        return best, _metres(lon, lat, *coords[best])

    rows = []
    with (NET / "published_distances.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            a, b = row["from_id"], row["to_id"]
            if not (a.startswith(("HUB-", "WH-")) and b.startswith(("HUB-", "WH-"))):
                continue
            (na, da), (nb, db) = snap(a), snap(b)
            km = float(dijkstra(w, indices=na)[nb]) / 1000 + (da + db) / 1000
            rows.append({
                "from": f"{places[a][2]} {a}", "to": f"{places[b][2]} {b}",
                "published_km": float(row["road_km"]), "osm_km": round(km, 1),
                "snap_km": round((da + db) / 1000, 1),
                "ratio": round(km / float(row["road_km"]), 2),
            })  # fmt: skip
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path, help="scgraph_data-2.0.0-py3-none-any.whl")
    args = ap.parse_args()
    coords, edges = _clip(_read_module(args.wheel), _box())
    coords, edges = _largest_piece(coords, edges)
    total_km = sum(e[2] for e in edges) / 1000
    OUT.write_text(
        json.dumps(
            {
                "attribution": ATTRIBUTION,
                "licence": "ODbL-1.0: https://opendatacommons.org/licenses/odbl/1-0/ "
                "(attribution kept, derived data shared alike)",
                "source": "PyPI scgraph-data 2.0.0, scgraph_data/world_highways.py "
                "(OpenStreetMap highways, nodes rounded to 0.001 degree, lengths in km)",
                "derived_by": "scripts/derive_osm_trunk.py",
                "box": [round(x, 3) for x in _box()],
                "nodes": coords,
                "edges": edges,
            },
            separators=(",", ":"),
        ),
        encoding="utf-8",
    )
    print(f"{OUT.relative_to(ROOT)}: {len(coords)} nodes, {len(edges)} edges, {total_km:.0f} km")
    print(f"{'from':<28} {'to':<28} {'published':>9} {'OSM':>7} {'snap':>5} {'ratio':>5}")
    for r in _compare(coords, edges):
        print(f"{r['from']:<28} {r['to']:<28} {r['published_km']:>9} {r['osm_km']:>7} "
              f"{r['snap_km']:>5} {r['ratio']:>5}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
