"""Road-network benchmark: load time, the full place matrix, a 1,000 x 1,000 matrix on 100k+ nodes.

    .venv/bin/python benchmarks/network_bench.py [--osm-network FILE.npz] [--grid 320]

Prints figures; it is not a test. Targets (one core): network load < 1 s, full matrix of
all located places < 1 s, 1,000 x 1,000 matrix on a graph of >= 100,000 nodes < 10 s.
Contraction-hierarchy preprocessing is a one-off per network and profile (cached on disk)
and is reported separately. Each timing is the best of --repeat runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse.csgraph import dijkstra


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def grid_network(side: int, seed: int = 1) -> Any:
    """A grid-like road graph: jittered lattice, some links missing, diagonals, one-ways."""
    from routing.network.geometry import haversine_m
    from routing.network.graph import LENGTH_SOURCES, RoadNetwork
    from routing.network.speeds import load_speeds

    rng = np.random.default_rng(seed)
    classes = load_speeds().classes
    n = side * side
    ij = np.indices((side, side)).reshape(2, -1)
    lon = 101.0 + ij[1] * 0.003 + rng.normal(0, 0.0006, n)
    lat = 24.8 + ij[0] * 0.0027 + rng.normal(0, 0.0006, n)
    idx = np.arange(n).reshape(side, side)
    pairs = [
        (idx[:, :-1].ravel(), idx[:, 1:].ravel()),
        (idx[:-1, :].ravel(), idx[1:, :].ravel()),
        (idx[:-1, :-1].ravel(), idx[1:, 1:].ravel()),
    ]
    u = np.concatenate([p[0] for p in pairs])
    v = np.concatenate([p[1] for p in pairs])
    diagonal = np.zeros(len(u), dtype=bool)
    diagonal[-len(pairs[2][0]) :] = True
    keep = np.where(diagonal, rng.random(len(u)) < 0.15, rng.random(len(u)) < 0.93)
    u, v = u[keep], v[keep]
    straight = haversine_m(lon[u], lat[u], lon[v], lat[v])
    length = straight * rng.uniform(1.05, 1.6, len(u))
    row_u, col_u = u // side, u % side
    major = ((row_u % 20 == 0) & (u // side == v // side)) | (
        (col_u % 20 == 0) & (u % side == v % side)
    )
    cls = np.where(major, classes.index("provincial"), classes.index("village"))
    cls = np.where(~major & (rng.random(len(u)) < 0.3), classes.index("township"), cls)
    oneway = rng.random(len(u)) < 0.03
    geom = np.empty((2 * len(u), 2))
    geom[0::2] = np.column_stack([lon[u], lat[u]])
    geom[1::2] = np.column_stack([lon[v], lat[v]])
    return RoadNetwork(
        node_lon=lon,
        node_lat=lat,
        edge_u=u.astype(np.int32),
        edge_v=v.astype(np.int32),
        edge_length_m=length,
        edge_class=cls.astype(np.int16),
        edge_length_source=np.full(len(u), LENGTH_SOURCES.index("modeled"), dtype=np.int8),
        edge_oneway=oneway,
        geom_offsets=np.arange(0, 2 * len(u) + 1, 2, dtype=np.int64),
        geom_lon=np.ascontiguousarray(geom[:, 0]),
        geom_lat=np.ascontiguousarray(geom[:, 1]),
        classes=classes,
        places=(),
        meta={"source": "generated grid"},
        digest=f"grid-{side}-{seed}",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--osm-network", type=Path, help="an imported network file to use instead of the grid"
    )
    ap.add_argument("--grid", type=int, default=320, help="grid side (320 -> 102,400 nodes)")
    ap.add_argument("--size", type=int, default=1000, help="sources = targets of the big matrix")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", default="van")
    args = ap.parse_args()
    os.environ["CODIST_CACHE_DIR"] = tempfile.mkdtemp(prefix="codist-bench-")

    from routing.network import load_network, read_network, resolve, travel_matrix
    from routing.network.matrix import Waypoint, hierarchy

    print(f"cache: {os.environ['CODIST_CACHE_DIR']} (empty at start); profile {args.profile}")
    t = time.perf_counter()
    net = load_network()
    cold = time.perf_counter() - t
    warm, net = best_of(args.repeat, load_network)
    print(f"[load] modeled network, first load (builds the compiled file): {cold:.3f} s")
    print(f"[load] modeled network, from the compiled file: {warm:.3f} s  (target < 1 s)")
    print(
        f"       {net.n_nodes} nodes, {net.n_edges} edges, "
        f"{len(net.located_places())} located places"
    )

    ids = [p.id for p in net.located_places()]
    waypoints = resolve(net, ids)
    t = time.perf_counter()
    hierarchy(net, args.profile)
    print(f"[places] hierarchy build (one-off, cached): {time.perf_counter() - t:.3f} s")
    sec, m = best_of(args.repeat, lambda: travel_matrix(net, waypoints, profile=args.profile))
    print(f"[places] full matrix {len(ids)} x {len(ids)}: {sec:.4f} s  (target < 1 s)")

    if args.osm_network:
        big = load_network(args.osm_network)
        label = f"imported {args.osm_network.name}"
    else:
        t = time.perf_counter()
        big = grid_network(args.grid)
        label = f"generated grid {args.grid}x{args.grid}"
        print(f"[big] generated graph in {time.perf_counter() - t:.2f} s")
    print(f"[big] {label}: {big.n_nodes:,} nodes, {big.n_edges:,} edges")
    big_file = Path(os.environ["CODIST_CACHE_DIR"]) / "big.npz"
    big.save(big_file)
    sec, _ = best_of(args.repeat, lambda: read_network(big_file))
    print(f"[big] load of its compiled file: {sec:.3f} s  (target < 1 s)")
    t = time.perf_counter()
    ch = hierarchy(big, args.profile)
    print(
        f"[big] hierarchy build (one-off per network and profile, cached): "
        f"{time.perf_counter() - t:.1f} s, {len(ch.up_indices) + len(ch.down_indices):,} arcs"
    )
    rng = np.random.default_rng(5)
    nodes = rng.choice(big.n_nodes, size=args.size, replace=False)
    pts = [
        Waypoint(str(i), float(big.node_lon[i]), float(big.node_lat[i]), int(i), 0.0) for i in nodes
    ]
    sec, m = best_of(args.repeat, lambda: travel_matrix(big, pts, profile=args.profile))
    print(f"[big] matrix {args.size} x {args.size}: {sec:.2f} s  (target < 10 s)")

    check = rng.choice(args.size, size=10, replace=False)
    ref = dijkstra(big.csr(args.profile), indices=nodes[check])[:, nodes]
    got = m.durations_s[check].astype(float)
    reachable = np.isfinite(ref)
    assert np.array_equal(reachable, got >= 0), "reachability differs from scipy"
    err = np.abs(got[reachable] - ref[reachable]).max()
    print(
        f"[big] check: 10 rows agree with scipy Dijkstra within {err:.2f} s (rounding to whole s)"
    )


if __name__ == "__main__":
    main()
