"""Benchmark the contraction hierarchy on a generated grid-like road graph of >= 100k nodes.

Builds a ``side x side`` grid (default 320 x 320 = 102,400 nodes) with random edge lengths
of 50-500 m and random speeds, removes some edges, adds some diagonal shortcuts, makes every
road two-way, then times the preprocessing, a 1000 x 1000 ``many_to_many`` on random nodes,
and checks 20 random rows against ``scipy.sparse.csgraph.dijkstra``.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/ch_grid.py [--side 320] [--k 1000]``
The process pins itself to one core (the kernels and scipy's Dijkstra are serial anyway).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.network.ch import ContractionHierarchy, build_contraction_hierarchy, many_to_many


def grid_road_graph(
    side: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Return (tail, head, time_s, length_m, n_nodes) of a perturbed two-way grid.

    side: nodes per grid row/column. seed: random seed.
    ~8% of the grid edges are removed, ~10% of the cells get a diagonal road.
    """
    rng = np.random.default_rng(seed)
    n = side * side
    ids = np.arange(n).reshape(side, side)
    horiz = np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], axis=1)
    vert = np.stack([ids[:-1, :].ravel(), ids[1:, :].ravel()], axis=1)
    grid = np.concatenate([horiz, vert])
    grid = grid[rng.random(grid.shape[0]) >= 0.08]
    diag = np.stack([ids[:-1, :-1].ravel(), ids[1:, 1:].ravel()], axis=1)
    anti = np.stack([ids[:-1, 1:].ravel(), ids[1:, :-1].ravel()], axis=1)
    diags = np.concatenate([diag, anti])
    diags = diags[rng.random(diags.shape[0]) < 0.05]
    und = np.concatenate([grid, diags])
    length = rng.uniform(50.0, 500.0, size=len(und))
    length[grid.shape[0] :] *= 1.3
    speed_kmh = rng.choice(np.array([30.0, 50.0, 80.0]), und.shape[0], p=[0.5, 0.35, 0.15])
    time_s = length / (speed_kmh / 3.6)
    tail = np.concatenate([und[:, 0], und[:, 1]])
    head = np.concatenate([und[:, 1], und[:, 0]])
    return tail, head, np.tile(time_s, 2), np.tile(length, 2), n


def count_shortcuts(
    ch: ContractionHierarchy, tail: np.ndarray, head: np.ndarray, weight: np.ndarray
) -> int:
    """Number of CH edges that are not an original edge (same ends and weight).

    ch: the hierarchy; tail, head, weight: the original edges (no parallel edges).
    """
    n = ch.n_nodes
    up_tail = np.repeat(np.arange(n), np.diff(ch.up_indptr))
    down_head = np.repeat(np.arange(n), np.diff(ch.down_indptr))
    ch_key = np.concatenate([up_tail * n + ch.up_indices, ch.down_indices * n + down_head])
    ch_w = np.concatenate([ch.up_weight, ch.down_weight])
    key = tail.astype(np.int64) * n + head
    order = np.argsort(key)
    key, w = key[order], weight[order]
    at = np.minimum(np.searchsorted(key, ch_key), key.size - 1)
    original = (key[at] == ch_key) & (w[at] == ch_w)
    return int(ch_key.size - original.sum())


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=320, help="grid side (nodes = side^2)")
    ap.add_argument("--k", type=int, default=1000, help="sources = targets = k random nodes")
    ap.add_argument("--check-rows", type=int, default=20, help="rows checked against scipy")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # measure on one core

    tail, head, time_s, length_m, n = grid_road_graph(args.side, args.seed)
    print(f"graph: {n:,} nodes, {tail.size:,} directed edges")

    # warm-up on a tiny graph so numba compilation/cache loading is not timed
    t0 = time.perf_counter()
    wt, wh, ww, wl, wn = grid_road_graph(5, 1)
    many_to_many(build_contraction_hierarchy(wt, wh, ww, wl, wn), np.arange(3), np.arange(3))
    print(f"numba compile/cache load: {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    ch = build_contraction_hierarchy(tail, head, time_s, length_m, n)
    t_pre = time.perf_counter() - t0
    print(f"preprocessing: {t_pre:.1f} s")
    n_short = count_shortcuts(ch, tail, head, time_s)
    print(
        f"CH edges: {ch.n_edges:,} (up {ch.up_indices.size:,} + down {ch.down_indices.size:,}),"
        f" of which shortcuts {n_short:,} ({n_short / tail.size:.0%} of the original edges)"
    )

    rng = np.random.default_rng(args.seed + 1)
    sources = rng.integers(0, n, args.k)
    targets = rng.integers(0, n, args.k)
    t0 = time.perf_counter()
    wmat, amat = many_to_many(ch, sources, targets)
    t_q = time.perf_counter() - t0
    print(f"many_to_many {args.k}x{args.k}: {t_q:.2f} s")

    graph = csr_matrix((time_s, (tail, head)), shape=(n, n))  # duplicates: none generated
    rows = rng.choice(args.k, min(args.check_rows, args.k), replace=False)
    t0 = time.perf_counter()
    ref_w, pred = dijkstra(graph, indices=sources[rows], return_predecessors=True)
    t_sp = time.perf_counter() - t0
    print(f"scipy dijkstra: {t_sp / rows.size * 1000:.1f} ms per source")
    err_w = np.max(np.abs(wmat[rows] - ref_w[:, targets]) / np.maximum(ref_w[:, targets], 1.0))
    # aux along scipy's path (unique shortest paths with continuous random weights)
    lookup = csr_matrix((length_m, (tail, head)), shape=(n, n))
    max_aux_err = 0.0
    for r_i, r in enumerate(rows):
        for j in range(0, args.k, 50):
            t = targets[j]
            aux = 0.0
            node = t
            while node != sources[r] and pred[r_i, node] >= 0:
                aux += lookup[pred[r_i, node], node]
                node = pred[r_i, node]
            max_aux_err = max(max_aux_err, abs(aux - amat[r, j]))
    print(f"check {rows.size} rows vs scipy: max rel weight err {err_w:.2e}")
    print(
        f"aux (m) check on {rows.size * len(range(0, args.k, 50))} pairs: max err {max_aux_err:.2e}"
    )
    if not (err_w < 1e-9 and max_aux_err < 1e-6):
        raise SystemExit("MISMATCH against scipy")
    print(
        f"summary: prep {t_pre:.1f} s | query {t_q:.2f} s | "
        f"scipy est. {t_sp / rows.size * args.k:.1f} s for {args.k} sources"
    )


if __name__ == "__main__":
    main()
