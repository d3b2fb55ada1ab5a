"""Contraction hierarchy: agreement with scipy's Dijkstra, aux along paths, edge cases."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.errors import InputError
from routing.network.ch import (
    ContractionHierarchy,
    build_contraction_hierarchy,
    many_to_many,
)

Edges = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _reference(
    tail: np.ndarray, head: np.ndarray, weight: np.ndarray, aux: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """All-pairs (weight, aux-along-the-path) by scipy Dijkstra on the deduplicated graph.

    Parallel edges: min weight (ties: min aux, as the CH does); self loops dropped. Weights
    must be > 0 (scipy treats explicit zeros ambiguously).
    """
    keep = tail != head
    t, h, w, a = tail[keep], head[keep], weight[keep], aux[keep]
    order = np.lexsort((a, w, h, t))
    t, h, w, a = t[order], h[order], w[order], a[order]
    first = np.ones(t.size, dtype=bool)
    first[1:] = (t[1:] != t[:-1]) | (h[1:] != h[:-1])
    t, h, w, a = t[first], h[first], w[first], a[first]
    dist, pred = dijkstra(csr_matrix((w, (t, h)), shape=(n, n)), return_predecessors=True)
    aux_of = {(int(x), int(y)): float(z) for x, y, z in zip(t, h, a, strict=True)}
    auxm = np.full((n, n), np.inf)
    for s in range(n):
        for x in range(n):
            if not np.isfinite(dist[s, x]):
                continue
            total, node = 0.0, x
            while node != s:
                p = int(pred[s, node])
                total += aux_of[(p, node)]
                node = p
            auxm[s, x] = total
    return dist, auxm


def _random_digraph(rng: np.random.Generator, n: int, m: int, integer: bool) -> Edges:
    """Random directed multigraph with self loops, parallel edges and one-way edges."""
    tail = rng.integers(0, n, m)
    head = rng.integers(0, n, m)
    weight = rng.integers(1, 20, m).astype(float) if integer else rng.uniform(0.5, 10.0, m)
    aux = rng.uniform(0.0, 100.0, m)
    return tail, head, weight, aux


def _grid(rng: np.random.Generator, side: int, integer: bool, oneway: float = 0.1) -> Edges:
    """Perturbed two-way grid, a fraction of the roads one-way, some removed."""
    ids = np.arange(side * side).reshape(side, side)
    pairs = np.concatenate(
        [
            np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], axis=1),
            np.stack([ids[:-1, :].ravel(), ids[1:, :].ravel()], axis=1),
            np.stack([ids[:-1, :-1].ravel(), ids[1:, 1:].ravel()], axis=1)[::3],
        ]
    )
    pairs = pairs[rng.random(len(pairs)) > 0.1]
    k = len(pairs)
    w = rng.integers(1, 9, k).astype(float) if integer else rng.uniform(1.0, 9.0, k)
    a = rng.uniform(10.0, 500.0, k)
    both = rng.random(k) >= oneway
    tail = np.concatenate([pairs[:, 0], pairs[both, 1]])
    head = np.concatenate([pairs[:, 1], pairs[both, 0]])
    return tail, head, np.concatenate([w, w[both]]), np.concatenate([a, a[both]])


def _all_pairs(ch: ContractionHierarchy) -> tuple[np.ndarray, np.ndarray]:
    nodes = np.arange(ch.n_nodes)
    return many_to_many(ch, nodes, nodes)


def test_hand_made_directed_example() -> None:
    # 0 -> 1 -> 2 -> 3 is cheap one way; 3 -> 0 is the only way back; 4 is isolated;
    # the parallel edge 0 -> 1 (5) loses to (1); the self loop is ignored; the direct
    # edges 0 -> 2 (3) and 2 -> 1 (4.5) lose to detours.
    tail = np.array([0, 0, 1, 2, 3, 0, 2, 2])
    head = np.array([1, 1, 2, 3, 0, 2, 2, 1])
    weight = np.array([1.0, 5.0, 1.0, 1.0, 2.0, 3.0, 0.5, 4.5])
    aux = np.array([10.0, 1.0, 20.0, 30.0, 40.0, 99.0, 7.0, 50.0])
    ch = build_contraction_hierarchy(tail, head, weight, aux, 5)
    w, a = _all_pairs(ch)
    inf = np.inf
    expected_w = np.array(
        [
            [0, 1, 2, 3, inf],
            [4, 0, 1, 2, inf],
            [3, 4, 0, 1, inf],
            [2, 3, 4, 0, inf],
            [inf, inf, inf, inf, 0],
        ]
    )
    expected_a = np.array(
        [
            [0, 10, 30, 60, inf],
            [90, 0, 20, 50, inf],
            [70, 80, 0, 30, inf],
            [40, 50, 70, 0, inf],
            [inf, inf, inf, inf, 0],
        ]
    )
    np.testing.assert_array_equal(w, expected_w)
    np.testing.assert_allclose(a, expected_a)
    assert sorted(ch.rank.tolist()) == list(range(5))


@pytest.mark.parametrize("seed", range(6))
def test_random_digraphs_match_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    # sparse graphs leave unreachable pairs and disconnected parts
    tail, head, weight, aux = _random_digraph(rng, n, int(rng.integers(n // 2, 4 * n)), True)
    ref_w, _ = _reference(tail, head, weight, aux, n)
    assert np.isinf(ref_w).any() or seed % 2  # most seeds exercise unreachable pairs
    ch = build_contraction_hierarchy(tail, head, weight, aux, n)
    w, _ = _all_pairs(ch)
    np.testing.assert_array_equal(w, ref_w)  # integer weights: exact


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_correct_whatever_the_witness_limit(limit: int) -> None:
    rng = np.random.default_rng(100 + limit)
    for _ in range(3):
        n = 40
        tail, head, weight, aux = _random_digraph(rng, n, 120, True)
        ref_w, _ = _reference(tail, head, weight, aux, n)
        ch = build_contraction_hierarchy(
            tail, head, weight, aux, n, witness_settled_limit=limit, priority_settled_limit=limit
        )
        np.testing.assert_array_equal(_all_pairs(ch)[0], ref_w)


@pytest.mark.parametrize(("side", "seed"), [(6, 0), (9, 1), (12, 2)])
def test_random_grids_match_scipy(side: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tail, head, weight, aux = _grid(rng, side, integer=True)
    n = side * side
    ref_w, _ = _reference(tail, head, weight, aux, n)
    ch = build_contraction_hierarchy(tail, head, weight, aux, n)
    np.testing.assert_array_equal(_all_pairs(ch)[0], ref_w)
    # a rectangular sub-matrix with repeats
    src = rng.integers(0, n, 7)
    tgt = rng.integers(0, n, 11)
    w, _ = many_to_many(ch, src, tgt)
    np.testing.assert_array_equal(w, ref_w[np.ix_(src, tgt)])


@pytest.mark.parametrize("seed", range(3))
def test_aux_follows_the_unique_shortest_path(seed: int) -> None:
    rng = np.random.default_rng(50 + seed)
    if seed == 0:
        tail, head, weight, aux = _random_digraph(rng, 50, 200, integer=False)
        n = 50
    else:
        side = 8 + seed
        tail, head, weight, aux = _grid(rng, side, integer=False)
        n = side * side
    ref_w, ref_a = _reference(tail, head, weight, aux, n)
    w, a = _all_pairs(build_contraction_hierarchy(tail, head, weight, aux, n))
    # float sums in another order: equal up to rounding, and inf at the same places
    np.testing.assert_allclose(w, ref_w, rtol=1e-12, atol=0)
    np.testing.assert_allclose(a, ref_a, rtol=1e-9, atol=1e-9)


def test_parallel_edges_keep_the_min_weight_one_and_its_aux() -> None:
    tail = np.array([0, 0, 0, 1])
    head = np.array([1, 1, 1, 0])
    weight = np.array([3.0, 1.0, 2.0, 1.0])
    aux = np.array([1.0, 30.0, 2.0, 5.0])
    w, a = _all_pairs(build_contraction_hierarchy(tail, head, weight, aux, 2))
    np.testing.assert_array_equal(w, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(a, [[0, 30], [5, 0]])


def test_zero_weights() -> None:
    tail = np.array([0, 1, 2, 3, 1])
    head = np.array([1, 2, 3, 0, 3])
    weight = np.array([0.0, 0.0, 2.0, 0.0, 5.0])
    aux = np.ones(5)
    w, _ = _all_pairs(build_contraction_hierarchy(tail, head, weight, aux, 4))
    expected = np.array([[0, 0, 0, 2], [2, 0, 0, 2], [2, 2, 0, 2], [0, 0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(w, expected)


def test_sources_equal_targets_repeats_and_empty() -> None:
    rng = np.random.default_rng(7)
    tail, head, weight, aux = _grid(rng, 7, integer=True)
    n = 49
    ch = build_contraction_hierarchy(tail, head, weight, aux, n)
    nodes = np.array([3, 17, 17, 40, 3, 0])
    w, a = many_to_many(ch, nodes, nodes)
    assert w.shape == a.shape == (6, 6)
    assert w.dtype == a.dtype == np.float64
    np.testing.assert_array_equal(np.diag(w), 0.0)
    np.testing.assert_array_equal(np.diag(a), 0.0)
    np.testing.assert_array_equal(w[1], w[2])
    np.testing.assert_array_equal(w[:, 0], w[:, 4])
    ref_w, _ = _reference(tail, head, weight, aux, n)
    np.testing.assert_array_equal(w, ref_w[np.ix_(nodes, nodes)])

    empty = np.array([], dtype=np.int64)
    for src, tgt, shape in [(empty, nodes, (0, 6)), (nodes, empty, (6, 0)), (empty, [], (0, 0))]:
        w, a = many_to_many(ch, src, np.asarray(tgt, dtype=np.int64))
        assert w.shape == a.shape == shape


def test_degenerate_graphs() -> None:
    none = np.array([], dtype=np.int64)
    ch = build_contraction_hierarchy(none, none, none.astype(float), none.astype(float), 3)
    w, a = _all_pairs(ch)
    expected = np.where(np.eye(3) == 1, 0.0, np.inf)
    np.testing.assert_array_equal(w, expected)
    np.testing.assert_array_equal(a, expected)
    ch0 = build_contraction_hierarchy(none, none, none.astype(float), none.astype(float), 0)
    assert many_to_many(ch0, none, none)[0].shape == (0, 0)


def test_round_trip_arrays() -> None:
    rng = np.random.default_rng(3)
    tail, head, weight, aux = _grid(rng, 8, integer=False)
    ch = build_contraction_hierarchy(tail, head, weight, aux, 64)
    buf = io.BytesIO()
    arrays: dict[str, Any] = ch.to_arrays()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf) as loaded:
        back = ContractionHierarchy.from_arrays(loaded)
    assert back.n_nodes == ch.n_nodes
    for name, arr in ch.to_arrays().items():
        np.testing.assert_array_equal(back.to_arrays()[name], arr)
    w1, a1 = _all_pairs(ch)
    w2, a2 = _all_pairs(back)
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(a1, a2)
    with pytest.raises(InputError):
        ContractionHierarchy.from_arrays({k: v for k, v in ch.to_arrays().items() if k != "rank"})


def test_hierarchy_structure() -> None:
    rng = np.random.default_rng(11)
    tail, head, weight, aux = _grid(rng, 8, integer=True)
    ch = build_contraction_hierarchy(tail, head, weight, aux, 64)
    assert np.array_equal(np.sort(ch.rank), np.arange(64))
    up_tail = np.repeat(np.arange(64), np.diff(ch.up_indptr))
    assert (ch.rank[ch.up_indices] > ch.rank[up_tail]).all()
    down_head = np.repeat(np.arange(64), np.diff(ch.down_indptr))
    assert (ch.rank[ch.down_indices] > ch.rank[down_head]).all()


def test_invalid_input() -> None:
    t = np.array([0, 1])
    h = np.array([1, 2])
    w = np.array([1.0, 1.0])
    with pytest.raises(InputError):
        build_contraction_hierarchy(t, h, np.array([1.0, -1.0]), w, 3)
    with pytest.raises(InputError):
        build_contraction_hierarchy(t, h, np.array([1.0, np.nan]), w, 3)
    with pytest.raises(InputError):
        build_contraction_hierarchy(t, np.array([1, 3]), w, w, 3)
    with pytest.raises(InputError):
        build_contraction_hierarchy(t, h[:1], w, w, 3)
    ch = build_contraction_hierarchy(t, h, w, w, 3)
    with pytest.raises(InputError):
        many_to_many(ch, np.array([0, 3]), np.array([0]))
    with pytest.raises(InputError):
        many_to_many(ch, np.array([0]), np.array([-1]))
