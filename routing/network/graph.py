"""The road network: nodes, road segments with geometry, and the places snapped onto it.

A network is stored as one compressed ``.npz`` file (the compiled form): flat numpy arrays
for nodes and edges and a JSON header for places and provenance, so loading is a handful of
array reads whatever the graph size. The modeled Chuxiong network and an imported
OpenStreetMap extract use the same format.

Units: lengths in metres, coordinates WGS84 ``lon, lat`` degrees.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from routing.errors import InputError, NotFoundError
from routing.network.speeds import SpeedTable, load_speeds

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

    from routing.network.snap import NodeIndex

FORMAT_VERSION = 1
LENGTH_SOURCES = ("modeled", "published", "osm")
PLACE_KINDS = ("warehouse", "hub", "township", "village")


@dataclass(frozen=True)
class Place:
    """A named place of the prefecture; ``node`` is -1 when it has no coordinates."""

    id: str
    kind: str
    name_zh: str
    name_pinyin: str
    county_code: str
    township_code: str
    lon: float | None
    lat: float | None
    node: int = -1
    snap_m: float = 0.0
    coord_source: str = ""
    notes: str = ""

    @property
    def located(self) -> bool:
        return self.lon is not None and self.node >= 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name_zh": self.name_zh,
            "name_pinyin": self.name_pinyin,
            "county_code": self.county_code,
            "township_code": self.township_code,
            "lon": self.lon,
            "lat": self.lat,
            "node": self.node,
            "snap_m": round(self.snap_m, 1),
            "coord_source": self.coord_source,
            "notes": self.notes,
        }


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """An immutable road graph. Edges are two-way unless ``edge_oneway`` (u -> v only)."""

    node_lon: np.ndarray  # float64 [n]
    node_lat: np.ndarray  # float64 [n]
    edge_u: np.ndarray  # int32 [m]
    edge_v: np.ndarray  # int32 [m]
    edge_length_m: np.ndarray  # float64 [m]
    edge_class: np.ndarray  # int16 [m], index into classes
    edge_length_source: np.ndarray  # int8 [m], index into LENGTH_SOURCES
    edge_oneway: np.ndarray  # bool [m]
    geom_offsets: np.ndarray  # int64 [m + 1]; edge i's points are geom_*[off[i]:off[i+1]]
    geom_lon: np.ndarray
    geom_lat: np.ndarray
    classes: tuple[str, ...]
    places: tuple[Place, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    digest: str = ""  # identity of the nodes and edges, for caches keyed by the graph

    # ---- sizes and lookups -------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return int(self.node_lon.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.shape[0])

    @property
    def source(self) -> str:
        return str(self.meta.get("source", "unknown"))

    @cached_property
    def _place_index(self) -> dict[str, Place]:
        return {p.id: p for p in self.places}

    def place(self, place_id: str) -> Place:
        """The place with this id; NotFoundError names the id otherwise."""
        try:
            return self._place_index[place_id]
        except KeyError:
            raise NotFoundError("place", f"unknown place id {place_id!r}") from None

    @cached_property
    def node_index(self) -> NodeIndex:
        """Spatial index of the nodes (built on first use)."""
        from routing.network.snap import NodeIndex

        return NodeIndex(self.node_lon, self.node_lat)

    def located_places(self) -> list[Place]:
        return [p for p in self.places if p.located]

    # ---- arcs and travel costs ---------------------------------------------------------
    @cached_property
    def arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tail, head, edge index) of directed arcs: both directions unless one-way."""
        two_way = ~self.edge_oneway
        idx = np.arange(self.n_edges)
        tail = np.concatenate([self.edge_u, self.edge_v[two_way]])
        head = np.concatenate([self.edge_v, self.edge_u[two_way]])
        edge = np.concatenate([idx, idx[two_way]])
        return tail.astype(np.int64), head.astype(np.int64), edge.astype(np.int64)

    def arc_costs(
        self, profile: str, speeds: SpeedTable | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(tail, head, duration_s, length_m, edge index) of the arcs the profile may use."""
        speeds = speeds or load_speeds()
        mps = self.class_speeds_mps(profile, speeds)
        tail, head, edge = self.arcs
        speed = mps[self.edge_class[edge]]
        usable = speed > 0
        edge = edge[usable]
        length = self.edge_length_m[edge]
        return tail[usable], head[usable], length / speed[usable], length, edge

    def class_speeds_mps(self, profile: str, speeds: SpeedTable) -> np.ndarray:
        """Speed (m/s) of this network's class codes for a profile."""
        by_name = speeds.speeds_mps(profile)
        out = np.zeros(len(self.classes))
        for i, name in enumerate(self.classes):
            out[i] = by_name[speeds.class_index(name)]
        return out

    def csr(self, profile: str, weight: str = "duration") -> csr_matrix:
        """Sparse adjacency weighted by ``duration`` (s) or ``length`` (m); parallel arcs: min."""
        from scipy.sparse import csr_matrix

        if weight not in ("duration", "length"):
            raise InputError("weight", f"{weight!r} is not 'duration' or 'length'")
        tail, head, duration, length, _ = self.arc_costs(profile)
        w = duration if weight == "duration" else length
        order = np.lexsort((w, head, tail))
        tail, head, w = tail[order], head[order], w[order]
        first = np.ones(len(tail), dtype=bool)
        first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        # A zero-weight arc would vanish from a sparse matrix; keep it as a tiny positive.
        w = np.maximum(w[first], 1e-6)
        return csr_matrix((w, (tail[first], head[first])), shape=(self.n_nodes, self.n_nodes))

    def edge_geometry(self, edge: int) -> np.ndarray:
        """[k, 2] lon/lat points of one edge from u to v."""
        a, b = self.geom_offsets[edge], self.geom_offsets[edge + 1]
        return np.column_stack([self.geom_lon[a:b], self.geom_lat[a:b]])

    def total_km(self) -> float:
        return float(self.edge_length_m.sum()) / 1000.0

    def with_places(self, places: tuple[Place, ...]) -> RoadNetwork:
        return replace(self, places=places)

    def without_edges(self, edges: Iterable[int]) -> RoadNetwork:
        """The same network with these road segments closed (removed); nodes and places
        keep their indices, so routes and matrices stay comparable."""
        closed = sorted({int(e) for e in edges if 0 <= int(e) < self.n_edges})
        if not closed:
            return self
        keep = np.ones(self.n_edges, dtype=bool)
        keep[closed] = False
        counts = np.diff(self.geom_offsets)[keep]
        point_keep = np.repeat(keep, np.diff(self.geom_offsets))
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(self.geom_offsets.dtype)
        digest = hashlib.sha256(f"{self.digest}-closed-{closed}".encode()).hexdigest()[:16]
        return replace(
            self,
            edge_u=self.edge_u[keep],
            edge_v=self.edge_v[keep],
            edge_length_m=self.edge_length_m[keep],
            edge_class=self.edge_class[keep],
            edge_length_source=self.edge_length_source[keep],
            edge_oneway=self.edge_oneway[keep],
            geom_offsets=offsets,
            geom_lon=self.geom_lon[point_keep],
            geom_lat=self.geom_lat[point_keep],
            meta={**self.meta, "closed_edges": closed},
            digest=digest if self.digest else "",
        )

    # ---- persistence -------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the compiled form atomically (a partial file is never left behind)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "format_version": FORMAT_VERSION,
            "classes": list(self.classes),
            "places": [p.as_dict() for p in self.places],
            "meta": self.meta,
        }
        # a temporary file of this writer's own: threads or processes saving the same
        # network at once never rename each other's file away
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                self._write(f, header)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _write(self, f: Any, header: dict[str, Any]) -> None:
        np.savez_compressed(
            f,
            header=np.frombuffer(json.dumps(header, ensure_ascii=False).encode(), dtype=np.uint8),
            node_lon=self.node_lon,
            node_lat=self.node_lat,
            edge_u=self.edge_u,
            edge_v=self.edge_v,
            edge_length_m=self.edge_length_m,
            edge_class=self.edge_class,
            edge_length_source=self.edge_length_source,
            edge_oneway=self.edge_oneway,
            geom_offsets=self.geom_offsets,
            geom_lon=self.geom_lon,
            geom_lat=self.geom_lat,
        )


def read_network(path: Path, digest: str = "") -> RoadNetwork:
    """Read a compiled network file; a damaged or foreign file is an InputError."""
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            arrays = {k: z[k] for k in z.files if k != "header"}
    except FileNotFoundError:
        raise InputError("network", f"network file {path} does not exist") from None
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise InputError("network", f"{path} is not a codist network file ({e})") from None
    if header.get("format_version") != FORMAT_VERSION:
        raise InputError("network", f"{path} has format {header.get('format_version')!r}")
    places = tuple(
        Place(**{k: v for k, v in p.items() if k in Place.__dataclass_fields__})
        for p in header["places"]
    )
    return RoadNetwork(
        classes=tuple(header["classes"]),
        places=places,
        meta=header.get("meta", {}),
        digest=digest,
        **arrays,
    )


def edges_from_lists(
    node_lon: list[float] | np.ndarray,
    node_lat: list[float] | np.ndarray,
    edges: list[tuple[int, int, float, int, int, bool, np.ndarray]],
    classes: tuple[str, ...],
    places: tuple[Place, ...],
    meta: dict[str, Any],
) -> RoadNetwork:
    """Assemble a network from python lists.

    ``edges`` holds (u, v, length_m, class index, length source index, oneway, geometry
    [k, 2] lon/lat from u to v).
    """
    m = len(edges)
    offsets = np.zeros(m + 1, dtype=np.int64)
    for i, e in enumerate(edges):
        offsets[i + 1] = offsets[i] + len(e[6])
    geom = np.concatenate([e[6] for e in edges]) if edges else np.zeros((0, 2))
    return RoadNetwork(
        node_lon=np.asarray(node_lon, dtype=np.float64),
        node_lat=np.asarray(node_lat, dtype=np.float64),
        edge_u=np.array([e[0] for e in edges], dtype=np.int32),
        edge_v=np.array([e[1] for e in edges], dtype=np.int32),
        edge_length_m=np.array([e[2] for e in edges], dtype=np.float64),
        edge_class=np.array([e[3] for e in edges], dtype=np.int16),
        edge_length_source=np.array([e[4] for e in edges], dtype=np.int8),
        edge_oneway=np.array([e[5] for e in edges], dtype=bool),
        geom_offsets=offsets,
        geom_lon=np.ascontiguousarray(geom[:, 0]),
        geom_lat=np.ascontiguousarray(geom[:, 1]),
        classes=classes,
        places=places,
        meta=meta,
    )


def to_networkx(network: RoadNetwork, profile: str | None = None) -> Any:
    """The network as a ``networkx.MultiDiGraph`` (one edge per usable arc).

    Node attributes ``x`` (lon), ``y`` (lat), ``places`` (ids); edge attributes
    ``length_m``, ``road_class``, ``length_source``, ``geometry`` (shapely LineString) and,
    with a profile, ``travel_time_s``. For inspection and interop; the matrix and route
    functions work on the arrays directly.
    """
    import networkx as nx
    from shapely.geometry import LineString

    graph = nx.MultiDiGraph(source=network.source, profile=profile)
    at_node: dict[int, list[str]] = {}
    for p in network.places:
        if p.node >= 0:
            at_node.setdefault(p.node, []).append(p.id)
    for i in range(network.n_nodes):
        graph.add_node(
            i, x=float(network.node_lon[i]), y=float(network.node_lat[i]), places=at_node.get(i, [])
        )
    if profile is None:
        tail, head, edge = network.arcs
        times = np.full(len(edge), np.nan)
    else:
        tail, head, times, _, edge = network.arc_costs(profile)
    for a, b, e, t in zip(tail.tolist(), head.tolist(), edge.tolist(), times.tolist(), strict=True):
        pts = network.edge_geometry(e)
        if network.edge_u[e] != a:
            pts = pts[::-1]
        attrs: dict[str, Any] = {
            "length_m": float(network.edge_length_m[e]),
            "road_class": network.classes[network.edge_class[e]],
            "length_source": LENGTH_SOURCES[network.edge_length_source[e]],
            "geometry": LineString(pts),
        }
        if profile is not None:
            attrs["travel_time_s"] = float(t)
        graph.add_edge(a, b, **attrs)
    return graph
