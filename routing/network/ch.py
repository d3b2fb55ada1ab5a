"""Contraction Hierarchies (CH) for fast many-to-many shortest-path matrices on road graphs.

Preprocessing (:func:`build_contraction_hierarchy`) contracts the nodes of a directed graph
one by one in an order chosen by a priority (edge difference + contracted neighbours +
level, updated lazily and for the neighbours of every contracted node), adding a shortcut
``u -> w`` whenever the path ``u -> v -> w`` through the contracted node ``v`` may be the
only shortest one. Whether it is, is decided by a *witness search* (a Dijkstra from ``u``
that avoids ``v``) bounded by a settled-node limit; a search cut short only adds superfluous
shortcuts, so the answers never depend on the limits.

Queries (:func:`many_to_many`) use the bucket algorithm of Knopp et al. (2007): an upward
backward search from every target leaves ``(target, dist, aux)`` entries in buckets at the
nodes it settles, then an upward forward search from every source scans the buckets of the
nodes it settles. Both searches use stall-on-demand.

Every edge has a primary weight that is minimised (e.g. travel time in s) and a secondary
``aux`` weight (e.g. metres) that is summed along the chosen shortest path. When several
shortest paths tie on the weight, ``aux`` comes from any one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numba import njit

from routing.errors import InputError

__all__ = ["ContractionHierarchy", "build_contraction_hierarchy", "many_to_many"]

_ARRAY_FIELDS = (
    "rank",
    "up_indptr",
    "up_indices",
    "up_weight",
    "up_aux",
    "down_indptr",
    "down_indices",
    "down_weight",
    "down_aux",
)

# Node ordering: priority = ED * edge difference + DN * contracted neighbours + LVL * level
# (level = 1 + max level of the contracted neighbours). Tuned on grid-like road graphs.
_PRIO_EDGE_DIFF = 2.0
_PRIO_DELETED = 1.0
_PRIO_LEVEL = 1.0


@dataclass(frozen=True, eq=False)
class ContractionHierarchy:
    """Upward/downward search graphs of a contracted directed graph."""

    n_nodes: int
    rank: np.ndarray  # int32 [n], contraction order (0 = contracted first)
    up_indptr: np.ndarray  # int64 [n + 1], CSR of upward edges u -> v (rank[v] > rank[u])
    up_indices: np.ndarray  # int32, head v of each upward edge
    up_weight: np.ndarray  # float64 primary weight (e.g. travel time in s)
    up_aux: np.ndarray  # float64 secondary weight summed along the same path (e.g. metres)
    down_indptr: np.ndarray  # int64 [n + 1], CSR at v of edges u -> v with rank[u] > rank[v]
    down_indices: np.ndarray  # int32, tail u of each such edge (backward search)
    down_weight: np.ndarray  # float64
    down_aux: np.ndarray  # float64

    @property
    def n_edges(self) -> int:
        """Number of edges (original and shortcuts) in the upward plus downward graphs."""
        return int(self.up_indices.shape[0] + self.down_indices.shape[0])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the hierarchy as named arrays, e.g. for ``np.savez``."""
        arrays = {name: getattr(self, name) for name in _ARRAY_FIELDS}
        arrays["n_nodes"] = np.asarray(self.n_nodes, dtype=np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ContractionHierarchy:
        """Rebuild a hierarchy from :meth:`to_arrays` output (or an ``np.load`` of its savez).

        arrays: mapping with the keys ``n_nodes`` and the array fields of the class.
        """
        missing = [k for k in ("n_nodes", *_ARRAY_FIELDS) if k not in arrays]
        if missing:
            raise InputError("arrays", f"missing keys {missing}")
        n = int(np.asarray(arrays["n_nodes"]))
        ch = cls(
            n_nodes=n,
            rank=np.ascontiguousarray(arrays["rank"], dtype=np.int32),
            up_indptr=np.ascontiguousarray(arrays["up_indptr"], dtype=np.int64),
            up_indices=np.ascontiguousarray(arrays["up_indices"], dtype=np.int32),
            up_weight=np.ascontiguousarray(arrays["up_weight"], dtype=np.float64),
            up_aux=np.ascontiguousarray(arrays["up_aux"], dtype=np.float64),
            down_indptr=np.ascontiguousarray(arrays["down_indptr"], dtype=np.int64),
            down_indices=np.ascontiguousarray(arrays["down_indices"], dtype=np.int32),
            down_weight=np.ascontiguousarray(arrays["down_weight"], dtype=np.float64),
            down_aux=np.ascontiguousarray(arrays["down_aux"], dtype=np.float64),
        )
        ch._check()
        return ch

    def _check(self) -> None:
        """Raise InputError unless shapes and node ids are consistent (the kernels trust them)."""
        n = self.n_nodes
        if n < 0 or self.rank.shape != (n,):
            raise InputError("rank", f"expected shape ({n},), got {self.rank.shape}")
        for side in ("up", "down"):
            indptr = getattr(self, f"{side}_indptr")
            indices = getattr(self, f"{side}_indices")
            m = indices.shape[0]
            if indptr.shape != (n + 1,) or indptr[0] != 0 or indptr[-1] != m:
                raise InputError(f"{side}_indptr", "inconsistent with the node/edge counts")
            if np.any(np.diff(indptr) < 0):
                raise InputError(f"{side}_indptr", "not non-decreasing")
            if m and (indices.min() < 0 or indices.max() >= n):
                raise InputError(f"{side}_indices", f"node ids must lie in [0, {n})")
            for name in ("weight", "aux"):
                if getattr(self, f"{side}_{name}").shape != (m,):
                    raise InputError(f"{side}_{name}", f"expected shape ({m},)")


# --------------------------------------------------------------------------------------
# numba kernels: binary heaps
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _heap_grow(hk, hv):
    nk = np.empty(2 * hk.shape[0], np.float64)
    nv = np.empty(2 * hv.shape[0], np.int32)
    for i in range(hk.shape[0]):
        nk[i] = hk[i]
        nv[i] = hv[i]
    return nk, nv


@njit(cache=True)
def _heap_push(hk, hv, size, key, val):
    """Push onto a lazy min-heap with room for one more (caller grows it first)."""
    i = size
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= key:
            break
        hk[i] = hk[p]
        hv[i] = hv[p]
        i = p
    hk[i] = key
    hv[i] = val


@njit(cache=True)
def _heap_pop(hk, hv, size):
    """Remove the top of a lazy min-heap; ``size`` is the entry count *after* removal."""
    lk = hk[size]
    lv = hv[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and hk[c + 1] < hk[c]:
            c += 1
        if hk[c] >= lk:
            break
        hk[i] = hk[c]
        hv[i] = hv[c]
        i = c
    hk[i] = lk
    hv[i] = lv


@njit(cache=True)
def _ih_less(key, a, b):
    return key[a] < key[b] or (key[a] == key[b] and a < b)


@njit(cache=True)
def _ih_up(h, pos, key, i):
    """Sift entry i up in an indexed min-heap (keys by node, ties by node id)."""
    v = h[i]
    while i > 0:
        p = (i - 1) >> 1
        pv = h[p]
        if not _ih_less(key, v, pv):
            break
        h[i] = pv
        pos[pv] = i
        i = p
    h[i] = v
    pos[v] = i


@njit(cache=True)
def _ih_down(h, pos, key, i, size):
    """Sift entry i down in an indexed min-heap of ``size`` entries."""
    v = h[i]
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and _ih_less(key, h[c + 1], h[c]):
            c += 1
        if not _ih_less(key, h[c], v):
            break
        h[i] = h[c]
        pos[h[i]] = i
        i = c
    h[i] = v
    pos[v] = i


# --------------------------------------------------------------------------------------
# numba kernels: dynamic adjacency lists in a pool (per node: start, length, capacity)
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _pool_append(start, length, cap, nbr, wt, ax, used, x, y, w, a):
    """Append (y, w, a) to node x's list, relocating it (and growing the pool) when full."""
    if length[x] == cap[x]:
        newcap = max(4, 2 * cap[x])
        if used[0] + newcap > nbr.shape[0]:
            size = max(2 * nbr.shape[0], used[0] + newcap)
            nn = np.empty(size, np.int32)
            nw = np.empty(size, np.float64)
            na = np.empty(size, np.float64)
            for k in range(used[0]):
                nn[k] = nbr[k]
                nw[k] = wt[k]
                na[k] = ax[k]
            nbr, wt, ax = nn, nw, na
        s = start[x]
        ns = used[0]
        for k in range(length[x]):
            nbr[ns + k] = nbr[s + k]
            wt[ns + k] = wt[s + k]
            ax[ns + k] = ax[s + k]
        start[x] = ns
        cap[x] = newcap
        used[0] += newcap
    p = start[x] + length[x]
    nbr[p] = y
    wt[p] = w
    ax[p] = a
    length[x] += 1
    return nbr, wt, ax


@njit(cache=True)
def _pool_remove(start, length, nbr, wt, ax, x, y):
    """Remove the entry for y from node x's list (swap with the last)."""
    s = start[x]
    last = s + length[x] - 1
    for k in range(s, last + 1):
        if nbr[k] == y:
            nbr[k] = nbr[last]
            wt[k] = wt[last]
            ax[k] = ax[last]
            length[x] -= 1
            return


@njit(cache=True)
def _pool_improve(start, length, nbr, wt, ax, x, y, w, a):
    """Lower x's entry for y to weight w if smaller: 1 lowered, 0 unchanged, -1 no entry."""
    s = start[x]
    for k in range(s, s + length[x]):
        if nbr[k] == y:
            if w < wt[k]:
                wt[k] = w
                ax[k] = a
                return 1
            return 0
    return -1


# --------------------------------------------------------------------------------------
# numba kernels: contraction
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _find_shortcuts(
    v,
    limit,
    o_start,
    o_len,
    o_nbr,
    o_w,
    o_a,
    i_start,
    i_len,
    i_nbr,
    i_w,
    i_a,
    dist,
    stamp,
    tmark,
    cur,
    hk,
    hv,
    buf_u,
    buf_x,
    buf_w,
    buf_a,
    record,
):
    """Count (and if ``record``, store in buf_*) the shortcuts needed to contract v.

    Witness searches run from each in-neighbour u of v in the current graph minus v, settling
    at most ``limit`` nodes; tentative distances are real paths avoiding v, so using them as
    witnesses is safe, and stopping early only adds shortcuts.
    """
    count = 0
    os_ = o_start[v]
    oe = os_ + o_len[v]
    for ei in range(i_start[v], i_start[v] + i_len[v]):
        u = i_nbr[ei]
        wu = i_w[ei]
        maxd = -1.0
        n_t = 0
        cur[0] += 1
        c = cur[0]
        for eo in range(os_, oe):
            x = o_nbr[eo]
            if x == u:
                continue
            n_t += 1
            tmark[x] = c
            if wu + o_w[eo] > maxd:
                maxd = wu + o_w[eo]
        if n_t == 0:
            continue
        # bounded Dijkstra from u avoiding v
        dist[u] = 0.0
        stamp[u] = c
        hk[0] = 0.0
        hv[0] = u
        size = 1
        settled = 0
        while size > 0:
            d = hk[0]
            x = hv[0]
            size -= 1
            _heap_pop(hk, hv, size)
            if d > dist[x]:
                continue
            if d > maxd:
                break
            if tmark[x] == c:
                n_t -= 1
                if n_t == 0:
                    break
            settled += 1
            if settled > limit:
                break
            for e in range(o_start[x], o_start[x] + o_len[x]):
                y = o_nbr[e]
                if y == v:
                    continue
                nd = d + o_w[e]
                if nd > maxd:
                    continue
                if stamp[y] != c or nd < dist[y]:
                    dist[y] = nd
                    stamp[y] = c
                    if size == hk.shape[0]:
                        hk, hv = _heap_grow(hk, hv)
                    _heap_push(hk, hv, size, nd, y)
                    size += 1
        for eo in range(os_, oe):
            x = o_nbr[eo]
            if x == u:
                continue
            sd = wu + o_w[eo]
            if stamp[x] == c and dist[x] <= sd:
                continue
            if record:
                buf_u[count] = u
                buf_x[count] = x
                buf_w[count] = sd
                buf_a[count] = i_a[ei] + o_a[eo]
            count += 1
    return count, hk, hv


@njit(cache=True)
def _contract_graph(n, tail, head, weight, aux, sim_limit, contract_limit, c_ed, c_dn, c_lvl):
    """Contract all nodes; return rank and the frozen per-node out/in lists (up/down graphs)."""
    m = tail.shape[0]
    o_len = np.zeros(n, np.int64)
    i_len = np.zeros(n, np.int64)
    for e in range(m):
        o_len[tail[e]] += 1
        i_len[head[e]] += 1
    o_start = np.zeros(n, np.int64)
    i_start = np.zeros(n, np.int64)
    o_cap = np.zeros(n, np.int64)
    i_cap = np.zeros(n, np.int64)
    po = 0
    pi = 0
    for x in range(n):
        o_start[x] = po
        i_start[x] = pi
        o_cap[x] = o_len[x] + 2
        i_cap[x] = i_len[x] + 2
        po += o_cap[x]
        pi += i_cap[x]
    o_used = np.zeros(1, np.int64)
    o_used[0] = po
    i_used = np.zeros(1, np.int64)
    i_used[0] = pi
    o_nbr = np.empty(2 * po + 16, np.int32)
    o_w = np.empty(2 * po + 16, np.float64)
    o_a = np.empty(2 * po + 16, np.float64)
    i_nbr = np.empty(2 * pi + 16, np.int32)
    i_w = np.empty(2 * pi + 16, np.float64)
    i_a = np.empty(2 * pi + 16, np.float64)
    fo = np.zeros(n, np.int64)
    fi = np.zeros(n, np.int64)
    for e in range(m):
        t = tail[e]
        h = head[e]
        k = o_start[t] + fo[t]
        o_nbr[k] = h
        o_w[k] = weight[e]
        o_a[k] = aux[e]
        fo[t] += 1
        k = i_start[h] + fi[h]
        i_nbr[k] = t
        i_w[k] = weight[e]
        i_a[k] = aux[e]
        fi[h] += 1

    dist = np.empty(n, np.float64)
    stamp = np.zeros(n, np.int64)
    tmark = np.zeros(n, np.int64)
    cur = np.zeros(1, np.int64)
    hk = np.empty(256, np.float64)
    hv = np.empty(256, np.int32)
    buf_u = np.empty(1, np.int32)
    buf_x = np.empty(1, np.int32)
    buf_w = np.empty(1, np.float64)
    buf_a = np.empty(1, np.float64)

    deleted = np.zeros(n, np.int64)
    level = np.zeros(n, np.int64)
    nmark = np.empty(n, np.int64)
    prio = np.zeros(n, np.float64)
    fresh = np.zeros(n, np.int64)  # number of contractions done when prio[x] was computed
    pend = np.empty(n, np.int64)  # nodes whose priority must be recomputed
    npend = n
    heap = np.empty(n, np.int64)
    pos = np.empty(n, np.int64)
    for x in range(n):
        nmark[x] = -1
        pend[x] = x
        heap[x] = x
        pos[x] = x
    hsize = n
    heapified = False
    rank = np.empty(n, np.int32)
    r = 0
    # False: pend = nodes to (re)prioritise; True: pend[0] = the node to contract.
    # (Initialised from an expression: a literal would make numba compile _find_shortcuts
    # a second time for the literal type.)
    contracting = n < 0
    while True:
        # a single call site of _find_shortcuts (numba compiles and inlines it only once):
        # priorities of all nodes at first, then of the neighbours of the last contracted
        # node or of a stale queue top (lazy update); or the shortcuts of the node contracted
        for k in range(npend):
            y = pend[k]
            if contracting:
                need = o_len[y] * i_len[y]
                if need > buf_u.shape[0]:
                    size = max(need, 2 * buf_u.shape[0])
                    buf_u = np.empty(size, np.int32)
                    buf_x = np.empty(size, np.int32)
                    buf_w = np.empty(size, np.float64)
                    buf_a = np.empty(size, np.float64)
            cnt, hk, hv = _find_shortcuts(
                y, contract_limit if contracting else sim_limit, o_start, o_len, o_nbr, o_w,
                o_a, i_start, i_len, i_nbr, i_w, i_a, dist, stamp, tmark, cur, hk, hv,
                buf_u, buf_x, buf_w, buf_a, contracting,
            )  # fmt: skip
            if contracting:
                break
            p = c_ed * (cnt - o_len[y] - i_len[y]) + c_dn * deleted[y] + c_lvl * level[y]
            old = prio[y]
            prio[y] = p
            fresh[y] = r
            if heapified:
                if p < old:
                    _ih_up(heap, pos, prio, pos[y])
                elif p > old:
                    _ih_down(heap, pos, prio, pos[y], hsize)
        if not contracting:
            npend = 0
            if not heapified:
                for i in range(n // 2 - 1, -1, -1):
                    _ih_down(heap, pos, prio, i, hsize)
                heapified = True
            if hsize == 0:
                break
            v = heap[0]
            if fresh[v] != r:
                pend[0] = v
                npend = 1
                continue
            # pop v; contract it in the next round
            hsize -= 1
            if hsize > 0:
                heap[0] = heap[hsize]
                pos[heap[0]] = 0
                _ih_down(heap, pos, prio, np.int64(0), hsize)  # int64, not a literal
            pos[v] = -1
            pend[0] = v
            npend = 1
            contracting = True
            continue
        # insert the shortcuts found for v = pend[0]
        contracting = False
        v = pend[0]
        npend = 0
        for k in range(cnt):
            u = buf_u[k]
            x = buf_x[k]
            res = _pool_improve(o_start, o_len, o_nbr, o_w, o_a, u, x, buf_w[k], buf_a[k])
            if res == 1:
                _pool_improve(i_start, i_len, i_nbr, i_w, i_a, x, u, buf_w[k], buf_a[k])
            elif res == -1:
                o_nbr, o_w, o_a = _pool_append(
                    o_start, o_len, o_cap, o_nbr, o_w, o_a, o_used, u, x, buf_w[k], buf_a[k]
                )
                i_nbr, i_w, i_a = _pool_append(
                    i_start, i_len, i_cap, i_nbr, i_w, i_a, i_used, x, u, buf_w[k], buf_a[k]
                )
        rank[v] = r
        r += 1
        # detach v from its neighbours; v's own lists stay frozen as its up/down edges
        for e in range(o_start[v], o_start[v] + o_len[v]):
            y = o_nbr[e]
            _pool_remove(i_start, i_len, i_nbr, i_w, i_a, y, v)
            if nmark[y] != v:
                nmark[y] = v
                pend[npend] = y
                npend += 1
        for e in range(i_start[v], i_start[v] + i_len[v]):
            y = i_nbr[e]
            _pool_remove(o_start, o_len, o_nbr, o_w, o_a, y, v)
            if nmark[y] != v:
                nmark[y] = v
                pend[npend] = y
                npend += 1
        for k in range(npend):
            y = pend[k]
            deleted[y] += 1
            if level[y] < level[v] + 1:
                level[y] = level[v] + 1

    # compact the frozen lists into CSR
    up_indptr = np.zeros(n + 1, np.int64)
    dn_indptr = np.zeros(n + 1, np.int64)
    for x in range(n):
        up_indptr[x + 1] = up_indptr[x] + o_len[x]
        dn_indptr[x + 1] = dn_indptr[x] + i_len[x]
    up_idx = np.empty(up_indptr[n], np.int32)
    up_w = np.empty(up_indptr[n], np.float64)
    up_a = np.empty(up_indptr[n], np.float64)
    dn_idx = np.empty(dn_indptr[n], np.int32)
    dn_w = np.empty(dn_indptr[n], np.float64)
    dn_a = np.empty(dn_indptr[n], np.float64)
    for x in range(n):
        s = o_start[x]
        b = up_indptr[x]
        for k in range(o_len[x]):
            up_idx[b + k] = o_nbr[s + k]
            up_w[b + k] = o_w[s + k]
            up_a[b + k] = o_a[s + k]
        s = i_start[x]
        b = dn_indptr[x]
        for k in range(i_len[x]):
            dn_idx[b + k] = i_nbr[s + k]
            dn_w[b + k] = i_w[s + k]
            dn_a[b + k] = i_a[s + k]
    return rank, up_indptr, up_idx, up_w, up_a, dn_indptr, dn_idx, dn_w, dn_a


# --------------------------------------------------------------------------------------
# numba kernels: queries
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _upward_search(
    root, indptr, indices, wts, auxs, st_indptr, st_indices, st_w, dist, daux, hk, hv, touched,
    settled,
):  # fmt: skip
    """Upward Dijkstra with stall-on-demand from root over the CSR graph indptr/indices/wts.

    st_*: the opposite-direction graph, used to stall nodes whose label is provably not
    their distance. dist must be +inf everywhere on entry; the caller resets it from
    ``touched``. Settled, unstalled nodes are written to ``settled``. Returns
    (n_settled, n_touched, hk, hv).
    """
    n_set = 0
    n_touch = 1
    dist[root] = 0.0
    daux[root] = 0.0
    touched[0] = root
    hk[0] = 0.0
    hv[0] = root
    size = 1
    while size > 0:
        d = hk[0]
        x = hv[0]
        size -= 1
        _heap_pop(hk, hv, size)
        if d > dist[x]:
            continue
        stalled = False
        for e in range(st_indptr[x], st_indptr[x + 1]):
            if dist[st_indices[e]] + st_w[e] < d:
                stalled = True
                break
        if stalled:
            continue
        settled[n_set] = x
        n_set += 1
        for e in range(indptr[x], indptr[x + 1]):
            y = indices[e]
            nd = d + wts[e]
            if nd < dist[y]:
                if dist[y] == np.inf:
                    touched[n_touch] = y
                    n_touch += 1
                dist[y] = nd
                daux[y] = daux[x] + auxs[e]
                if size == hk.shape[0]:
                    hk, hv = _heap_grow(hk, hv)
                _heap_push(hk, hv, size, nd, y)
                size += 1
    return n_set, n_touch, hk, hv


@njit(cache=True)
def _many_to_many(
    n,
    up_indptr,
    up_idx,
    up_w,
    up_a,
    dn_indptr,
    dn_idx,
    dn_w,
    dn_a,
    sources,
    targets,
):
    ns = sources.shape[0]
    nt = targets.shape[0]
    wmat = np.empty((ns, nt), np.float64)
    amat = np.empty((ns, nt), np.float64)
    for i in range(ns):
        for j in range(nt):
            wmat[i, j] = np.inf
            amat[i, j] = np.inf
    dist = np.empty(n, np.float64)
    for x in range(n):
        dist[x] = np.inf
    daux = np.zeros(n, np.float64)
    touched = np.empty(n, np.int32)
    nodes = np.empty(n, np.int32)
    hk = np.empty(256, np.float64)
    hv = np.empty(256, np.int32)

    # bucket entries (node, target index, dist to target, aux), grouped by node after phase 0
    cap = 1024
    b_node = np.empty(cap, np.int32)
    b_t = np.empty(cap, np.int32)
    b_d = np.empty(cap, np.float64)
    b_a = np.empty(cap, np.float64)
    nb = 0
    bptr = np.zeros(n + 1, np.int64)
    # phase 0: backward upward searches from the targets fill the buckets;
    # phase 1: forward upward searches from the sources scan them.
    # (one call site for the search keeps the numba compile time down)
    for phase in range(2):
        if phase == 0:
            roots = targets
            g_ptr, g_idx, g_w, g_a = dn_indptr, dn_idx, dn_w, dn_a
            s_ptr, s_idx, s_w = up_indptr, up_idx, up_w
        else:
            roots = sources
            g_ptr, g_idx, g_w, g_a = up_indptr, up_idx, up_w, up_a
            s_ptr, s_idx, s_w = dn_indptr, dn_idx, dn_w
        for i in range(roots.shape[0]):
            cnt, n_touch, hk, hv = _upward_search(
                roots[i], g_ptr, g_idx, g_w, g_a, s_ptr, s_idx, s_w, dist, daux, hk, hv,
                touched, nodes,
            )  # fmt: skip
            if phase == 0:
                if nb + cnt > cap:
                    cap = max(2 * cap, nb + cnt)
                    t1 = np.empty(cap, np.int32)
                    t2 = np.empty(cap, np.int32)
                    t3 = np.empty(cap, np.float64)
                    t4 = np.empty(cap, np.float64)
                    for k in range(nb):
                        t1[k] = b_node[k]
                        t2[k] = b_t[k]
                        t3[k] = b_d[k]
                        t4[k] = b_a[k]
                    b_node, b_t, b_d, b_a = t1, t2, t3, t4
                for k in range(cnt):
                    x = nodes[k]
                    b_node[nb] = x
                    b_t[nb] = i
                    b_d[nb] = dist[x]
                    b_a[nb] = daux[x]
                    nb += 1
            else:
                wrow = wmat[i]
                arow = amat[i]
                for k in range(cnt):
                    x = nodes[k]
                    df = dist[x]
                    af = daux[x]
                    for q in range(bptr[x], bptr[x + 1]):
                        c = df + b_d[q]
                        j = b_t[q]
                        if c < wrow[j]:
                            wrow[j] = c
                            arow[j] = af + b_a[q]
            for k in range(n_touch):
                dist[touched[k]] = np.inf
        if phase == 0:
            # group the bucket entries by node (counting sort)
            for k in range(nb):
                bptr[b_node[k] + 1] += 1
            for x in range(n):
                bptr[x + 1] += bptr[x]
            fill = np.empty(n, np.int64)
            for x in range(n):
                fill[x] = bptr[x]
            s_t = np.empty(nb, np.int32)
            s_d = np.empty(nb, np.float64)
            s_a = np.empty(nb, np.float64)
            for k in range(nb):
                x = b_node[k]
                q = fill[x]
                s_t[q] = b_t[k]
                s_d[q] = b_d[k]
                s_a[q] = b_a[k]
                fill[x] = q + 1
            b_t, b_d, b_a = s_t, s_d, s_a
    return wmat, amat


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


def build_contraction_hierarchy(
    tail: np.ndarray,
    head: np.ndarray,
    weight: np.ndarray,
    aux: np.ndarray,
    n_nodes: int,
    *,
    witness_settled_limit: int = 500,
    priority_settled_limit: int = 20,
) -> ContractionHierarchy:
    """Contract a DIRECTED graph given as edge arrays (tail -> head).

    tail, head: int [m] node ids in [0, n_nodes), edge tail -> head (one way).
    weight: float [m] >= 0, minimised (e.g. travel time in s); +inf edges are dropped.
    aux: float [m], finite; summed along the chosen shortest path (e.g. metres).
    n_nodes: number of nodes.
    Parallel edges: the min-weight one is kept. Self loops are ignored.
    witness_settled_limit: settled-node bound of the witness searches when contracting
        (smaller = faster preprocessing, more shortcuts; never affects correctness).
    priority_settled_limit: the same bound for the searches estimating node priorities.
    """
    n = int(n_nodes)
    if n < 0:
        raise InputError("n_nodes", "must be >= 0")
    tail = np.asarray(tail).ravel()
    head = np.asarray(head).ravel()
    weight = np.asarray(weight, dtype=np.float64).ravel()
    aux = np.asarray(aux, dtype=np.float64).ravel()
    m = tail.shape[0]
    for name, arr in (("head", head), ("weight", weight), ("aux", aux)):
        if arr.shape[0] != m:
            raise InputError(name, f"length {arr.shape[0]} differs from tail's {m}")
    if m and not (np.issubdtype(tail.dtype, np.integer) and np.issubdtype(head.dtype, np.integer)):
        raise InputError("tail", "tail and head must be integer node ids")
    tail = tail.astype(np.int64)
    head = head.astype(np.int64)
    if m and (tail.min() < 0 or head.min() < 0 or tail.max() >= n or head.max() >= n):
        raise InputError("tail", f"node ids must lie in [0, {n})")
    if np.isnan(weight).any() or (weight < 0).any():
        raise InputError("weight", "must be >= 0 (no NaN)")
    if not np.isfinite(aux).all():
        raise InputError("aux", "must be finite")
    if witness_settled_limit < 0 or priority_settled_limit < 0:
        raise InputError("witness_settled_limit", "limits must be >= 0")

    keep = (tail != head) & np.isfinite(weight)
    tail, head, weight, aux = tail[keep], head[keep], weight[keep], aux[keep]
    # parallel edges: keep the min-weight one (ties: smaller aux)
    order = np.lexsort((aux, weight, head, tail))
    tail, head, weight, aux = tail[order], head[order], weight[order], aux[order]
    first = np.ones(tail.shape[0], dtype=bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    tail, head, weight, aux = tail[first], head[first], weight[first], aux[first]

    rank, up_ptr, up_idx, up_w, up_a, dn_ptr, dn_idx, dn_w, dn_a = _contract_graph(
        n,
        tail.astype(np.int32),
        head.astype(np.int32),
        np.ascontiguousarray(weight),
        np.ascontiguousarray(aux),
        int(priority_settled_limit),
        int(witness_settled_limit),
        _PRIO_EDGE_DIFF,
        _PRIO_DELETED,
        _PRIO_LEVEL,
    )
    return ContractionHierarchy(
        n_nodes=n,
        rank=rank,
        up_indptr=up_ptr,
        up_indices=up_idx,
        up_weight=up_w,
        up_aux=up_a,
        down_indptr=dn_ptr,
        down_indices=dn_idx,
        down_weight=dn_w,
        down_aux=dn_a,
    )


def _node_ids(ch: ContractionHierarchy, ids: np.ndarray, field: str) -> np.ndarray:
    """Validate query node ids and return them as a contiguous int32 array."""
    arr = np.asarray(ids).ravel()
    if arr.size == 0:
        return np.zeros(0, dtype=np.int32)
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(field, "must be integer node ids")
    if arr.min() < 0 or arr.max() >= ch.n_nodes:
        raise InputError(field, f"node ids must lie in [0, {ch.n_nodes})")
    return np.ascontiguousarray(arr, dtype=np.int32)


def many_to_many(
    ch: ContractionHierarchy, sources: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (weight_matrix, aux_matrix) of the shortest paths from sources to targets.

    ch: the contraction hierarchy.
    sources, targets: int node ids; may repeat and overlap.
    Returns two float64 arrays of shape (len(sources), len(targets)): the minimal weight
    and the aux summed along that path; both np.inf where the target is unreachable.
    """
    src = _node_ids(ch, sources, "sources")
    tgt = _node_ids(ch, targets, "targets")
    if src.size == 0 or tgt.size == 0:
        shape = (src.size, tgt.size)
        return np.full(shape, np.inf), np.full(shape, np.inf)
    usrc, src_inv = np.unique(src, return_inverse=True)
    utgt, tgt_inv = np.unique(tgt, return_inverse=True)
    wmat, amat = _many_to_many(
        ch.n_nodes,
        ch.up_indptr,
        ch.up_indices,
        ch.up_weight,
        ch.up_aux,
        ch.down_indptr,
        ch.down_indices,
        ch.down_weight,
        ch.down_aux,
        usrc.astype(np.int32),
        utgt.astype(np.int32),
    )
    # np.unique sorts: map back to the caller's order (and repeats) unless it is the identity
    if usrc.size != src.size or np.any(usrc != src):
        wmat, amat = wmat[src_inv], amat[src_inv]
    if utgt.size != tgt.size or np.any(utgt != tgt):
        wmat, amat = wmat[:, tgt_inv], amat[:, tgt_inv]
    return wmat, amat
