"""Build a road network from an OpenStreetMap extract.

The extract (``.osm`` XML, ``.osm.pbf``, ``.osm.bz2``, ``.osm.gz``; anything libosmium
reads) is read once with pyosmium. Only the ways a van or truck may drive are kept: their
``highway`` tag maps to a road class in ``speeds.toml`` and they are not closed to motor
traffic. Ways are split into edges at their end points and at every node another kept way
(or the same way again) passes through, so the graph's nodes are the intersections and dead
ends and each edge keeps the full shape of the road between them. Everything after the
per-way loop works on flat numpy arrays, so a prefecture-sized extract (millions of shape
points) is a matter of seconds.

Only the largest weakly connected part of the road graph is kept: a stray fragment (a
car park, a road cut by the extract's border) would otherwise capture places and leave them
unreachable. Places are snapped to the nearest remaining node; a place farther than
``places.MAX_SNAP_M`` from every node lies outside the extract and stays unlocated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import osmium
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from routing.errors import InputError
from routing.network.geometry import haversine_m
from routing.network.graph import LENGTH_SOURCES, Place, RoadNetwork
from routing.network.places import attach_places, load_places
from routing.network.speeds import load_speeds

FIELD = "osm_file"
PROGRESS_EVERY_WAYS = 50_000

# Tag values, following the OSM wiki (Key:access, Key:oneway).
_CLOSED = frozenset({"no", "private"})
_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_REVERSE = frozenset({"-1", "reverse"})
_ONEWAY_NO = frozenset({"no", "false", "0"})
_NOT_ROADS = frozenset({"construction", "proposed"})
_IMPLIED_ONEWAY_HIGHWAYS = frozenset({"motorway", "motorway_link"})

ProgressFn = Callable[[str], None]


def _is_drivable(tags: Any) -> bool:
    """Whether a way with a drivable highway class is open to motor vehicles.

    ``area=yes`` (a square, a car park outline) is not a road. ``access=no|private`` closes
    the way unless ``motor_vehicle`` says otherwise (the more specific tag wins);
    ``destination``, ``delivery``, ``permissive`` ... stay open: a delivery van may use them.
    """
    if tags.get("area") == "yes":
        return False
    motor = tags.get("motor_vehicle")
    if motor is not None:
        return motor not in _CLOSED
    return tags.get("access") not in _CLOSED


def _oneway(tags: Any, highway: str) -> int:
    """+1 one-way along the way, -1 one-way against it, 0 two-way."""
    value = tags.get("oneway")
    if value in _ONEWAY_FORWARD:
        return 1
    if value in _ONEWAY_REVERSE:
        return -1
    if value in _ONEWAY_NO:
        return 0
    if tags.get("junction") == "roundabout" or highway in _IMPLIED_ONEWAY_HIGHWAYS:
        return 1
    return 0  # no tag, or reversible / alternating: usable both ways at some time


class _WayCollector(osmium.SimpleHandler):
    """Collects the drivable ways as flat lists of node ids and locations.

    A way is stored as one or more *pieces*: runs of consecutive nodes with a known
    location (an extract cut at a border can reference nodes it does not contain).
    """

    def __init__(self, class_of_tag: dict[str, int], progress: ProgressFn | None) -> None:
        super().__init__()
        self.class_of_tag = class_of_tag
        self.progress = progress
        self.refs: list[int] = []
        self.lons: list[float] = []
        self.lats: list[float] = []
        self.piece_starts: list[int] = []
        self.piece_class: list[int] = []
        self.piece_oneway: list[bool] = []
        self.highway_counts: Counter[str] = Counter()
        self.seen = 0
        self.kept = 0
        self.missing_refs = 0

    def way(self, w: Any) -> None:
        if self.progress is not None and self.seen and self.seen % PROGRESS_EVERY_WAYS == 0:
            self.progress(f"read {self.seen:,} highway ways ({self.kept:,} drivable)")
        self.seen += 1
        tags = w.tags
        highway = tags.get("highway")
        if highway is None or highway in _NOT_ROADS:
            return
        cls = self.class_of_tag.get(highway)
        if cls is None or not _is_drivable(tags):
            return
        direction = _oneway(tags, highway)
        try:
            runs = [[(n.ref, n.lon, n.lat) for n in w.nodes]]
        except osmium.InvalidLocationError:
            runs = self._located_runs(w)
        self.kept += 1
        self.highway_counts[highway] += 1
        for run in runs:
            if len(run) < 2:
                continue
            if direction < 0:
                run.reverse()
            self.piece_starts.append(len(self.refs))
            self.piece_class.append(cls)
            self.piece_oneway.append(direction != 0)
            for ref, lon, lat in run:
                self.refs.append(ref)
                self.lons.append(lon)
                self.lats.append(lat)

    def _located_runs(self, w: Any) -> list[list[tuple[int, float, float]]]:
        runs: list[list[tuple[int, float, float]]] = [[]]
        for n in w.nodes:
            loc = n.location
            if loc.valid():
                runs[-1].append((n.ref, loc.lon, loc.lat))
            else:
                self.missing_refs += 1
                if runs[-1]:
                    runs.append([])
        return runs


def _read_ways(
    path: Path, class_of_tag: dict[str, int], progress: ProgressFn | None
) -> _WayCollector:
    if not path.exists():
        raise InputError(FIELD, f"OSM file {path} does not exist")
    if not path.is_file():
        raise InputError(FIELD, f"{path} is not a file")
    collector = _WayCollector(class_of_tag, progress)
    try:
        collector.apply_file(
            str(path), locations=True, filters=[osmium.filter.KeyFilter("highway")]
        )
    except RuntimeError as e:
        text = str(e)
        if "detect file format" in text:
            raise InputError(
                FIELD,
                f"cannot tell the format of {path.name} from its name "
                "(expected .osm, .osm.pbf, .osm.bz2 or .osm.gz)",
            ) from None
        raise InputError(FIELD, f"{path.name} is not a readable OSM file ({text})") from None
    except (OSError, ValueError, osmium.InvalidLocationError) as e:
        raise InputError(FIELD, f"{path.name} is not a readable OSM file ({e})") from None
    return collector


def _ranges(start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Concatenation of arange(start[i], start[i] + length[i]) for all i."""
    offsets = np.concatenate([[0], np.cumsum(length)])
    shift = np.repeat(offsets[:-1] - start, length)
    return np.arange(offsets[-1], dtype=np.int64) - np.asarray(shift, dtype=np.int64)


def _edge_positions(piece_of: np.ndarray, is_break: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) point positions of the edges: consecutive breaks of one piece."""
    p = np.flatnonzero(is_break)
    same = piece_of[p[:-1]] == piece_of[p[1:]]
    return p[:-1][same], p[1:][same]


def _split_into_edges(
    refs: np.ndarray, piece_starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(piece of each point, first point, last point) of each edge."""
    n = len(refs)
    piece_len = np.diff(np.append(piece_starts, n))
    piece_of = np.repeat(np.arange(len(piece_starts)), piece_len)
    _, inverse, counts = np.unique(refs, return_inverse=True, return_counts=True)
    is_break = counts[inverse] > 1  # shared with another way, or visited twice by one
    is_break[piece_starts] = True
    is_break[np.append(piece_starts[1:], n) - 1] = True
    a, b = _edge_positions(piece_of, is_break)
    # A closed way touching the rest at one node would be a self-loop: split it in two.
    loop = (refs[a] == refs[b]) & (b - a >= 2)
    if loop.any():
        is_break[(a[loop] + b[loop]) // 2] = True
        a, b = _edge_positions(piece_of, is_break)
    return piece_of, a, b


def _largest_component(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask of the nodes in the largest weakly connected component."""
    adj = coo_matrix((np.ones(len(u), dtype=np.float32), (u, v)), shape=(n, n)).tocsr()
    _, labels = connected_components(adj, directed=True, connection="weak")
    return np.asarray(labels == np.argmax(np.bincount(labels)))


@dataclass
class _Pieces:
    """The drivable ways' points in file order, cut into pieces (runs of consecutive located
    nodes, see :class:`_WayCollector`), each piece with its road class and one-way flag."""

    refs: np.ndarray  # OSM node id of each point
    lon: np.ndarray  # degrees
    lat: np.ndarray  # degrees
    starts: np.ndarray  # first point of each piece
    cls: np.ndarray  # road class index of each piece
    oneway: np.ndarray  # True if the piece is one-way along its point order


def _pieces(ways: _WayCollector) -> _Pieces:
    """The collected ways as arrays; the collector's per-point lists are freed."""
    pieces = _Pieces(
        refs=np.array(ways.refs, dtype=np.int64),
        lon=np.array(ways.lons, dtype=np.float64),
        lat=np.array(ways.lats, dtype=np.float64),
        starts=np.array(ways.piece_starts, dtype=np.int64),
        cls=np.array(ways.piece_class, dtype=np.int16),
        oneway=np.array(ways.piece_oneway, dtype=bool),
    )
    for column in (ways.refs, ways.lons, ways.lats):
        column.clear()  # free the python lists early
    return pieces


def _drop_repeats(pieces: _Pieces, path: Path) -> _Pieces:
    """The pieces without a node listed twice in a row (a mapping slip, which would make a
    zero-length edge), dropping pieces left with fewer than two points; an InputError when
    nothing is left."""
    refs, lon, lat = pieces.refs, pieces.lon, pieces.lat
    piece_starts = pieces.starts
    repeat = np.zeros(len(refs), dtype=bool)
    repeat[1:] = refs[1:] == refs[:-1]
    repeat[piece_starts] = False
    if not repeat.any():
        return pieces
    sizes = np.diff(np.append(piece_starts, len(refs)))
    piece_id = np.repeat(np.arange(len(sizes)), sizes)[~repeat]
    refs, lon, lat = refs[~repeat], lon[~repeat], lat[~repeat]
    sizes = np.bincount(piece_id, minlength=len(sizes))
    ok = sizes >= 2
    point_ok = ok[piece_id]
    refs, lon, lat = refs[point_ok], lon[point_ok], lat[point_ok]
    sizes, piece_class, piece_oneway = sizes[ok], pieces.cls[ok], pieces.oneway[ok]
    piece_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    if len(refs) == 0:
        raise InputError(FIELD, f"{path.name} contains no drivable roads")
    return _Pieces(refs, lon, lat, piece_starts, piece_class, piece_oneway)


def _edge_nodes(
    pieces: _Pieces, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(node lon, node lat, edge u, edge v): the graph's nodes are the distinct OSM nodes at
    edge ends (first point a, last point b), in OSM id order; u and v index them."""
    refs = pieces.refs
    end_refs = np.concatenate([refs[a], refs[b]])
    end_pos = np.concatenate([a, b])
    node_refs, first = np.unique(end_refs, return_index=True)
    node_lon, node_lat = pieces.lon[end_pos[first]], pieces.lat[end_pos[first]]
    u = np.searchsorted(node_refs, refs[a])
    v = np.searchsorted(node_refs, refs[b])
    return node_lon, node_lat, u, v


def _edge_lengths(lon: np.ndarray, lat: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Length in metres of each edge from point a to point b: the sum of the great-circle
    lengths between its consecutive points."""
    step = np.zeros(len(lon))
    step[:-1] = haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:])
    bounds = np.empty(2 * len(a), dtype=np.int64)
    bounds[0::2], bounds[1::2] = a, b
    return np.add.reduceat(step, bounds)[0::2]


def _require_roads(path: Path, ways: _WayCollector, osm_highway: Iterable[str]) -> None:
    """An InputError saying why when the extract gave no drivable road point."""
    if ways.refs:
        return
    reason = f"{path.name} contains no drivable roads"
    if ways.kept:
        reason += f" ({ways.kept} drivable ways reference nodes missing from the file)"
    else:
        reason += f" (highway tags of {', '.join(sorted(osm_highway))})"
    raise InputError(FIELD, reason)


def _meta(path: Path, ways: _WayCollector, dropped_nodes: int) -> dict[str, Any]:
    """The network's provenance: the extract, its kept ways per highway tag, dropped nodes."""
    return {
        "source": "osm",
        "description": (
            f"imported from OpenStreetMap extract {path.name}; "
            "© OpenStreetMap contributors, ODbL 1.0"
        ),
        "osm_file": path.name,
        "ways": int(ways.kept),
        "dropped_nodes": dropped_nodes,
        "highway_counts": dict(sorted(ways.highway_counts.items())),
    }


def import_osm(
    path: Path,
    places: list[Place] | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> RoadNetwork:
    """Build a RoadNetwork from an OpenStreetMap extract (.osm XML, .osm.pbf, .osm.bz2...).

    ``places`` defaults to the bundled place list; each located place is snapped to the
    nearest node of the largest connected part of the roads. A missing, unreadable or
    malformed file, or one without drivable roads, is an InputError on ``osm_file``.
    """
    path = Path(path)
    speeds = load_speeds()
    classes = speeds.classes
    class_of_tag = {tag: speeds.class_index(name) for tag, name in speeds.osm_highway.items()}
    ways = _read_ways(path, class_of_tag, progress)
    _require_roads(path, ways, speeds.osm_highway)
    if progress is not None:
        progress(f"read {ways.seen:,} highway ways; {ways.kept:,} drivable ones make the graph")
        if ways.missing_refs:
            progress(f"{ways.missing_refs:,} node references without a location were skipped")

    pieces = _drop_repeats(_pieces(ways), path)
    lon, lat = pieces.lon, pieces.lat
    piece_of, a, b = _split_into_edges(pieces.refs, pieces.starts)
    node_lon, node_lat, u, v = _edge_nodes(pieces, a, b)
    length = _edge_lengths(lon, lat, a, b)

    # Keep the largest connected part.
    in_main = _largest_component(u, v, len(node_lon))
    dropped_nodes = int(len(node_lon) - in_main.sum())
    keep_edge = in_main[u]
    new_index = np.cumsum(in_main) - 1
    a, b, length = a[keep_edge], b[keep_edge], length[keep_edge]
    u, v = new_index[u[keep_edge]], new_index[v[keep_edge]]
    node_lon, node_lat = node_lon[in_main], node_lat[in_main]
    piece = piece_of[a]

    npoints = b - a + 1
    geom = _ranges(a, npoints)
    offsets = np.zeros(len(a) + 1, dtype=np.int64)
    np.cumsum(npoints, out=offsets[1:])
    if progress is not None:
        progress(
            f"graph: {len(node_lon):,} nodes, {len(a):,} edges "
            f"({dropped_nodes:,} nodes off the main network dropped)"
        )

    snapped = tuple(
        attach_places(
            node_lon,
            node_lat,
            load_places() if places is None else places,
            where=f"the OSM extract {path.name}",
        )
    )
    if progress is not None:
        n_snapped = sum(1 for p in snapped if p.node >= 0)
        progress(f"snapped {n_snapped:,} of {len(snapped):,} places")
    return RoadNetwork(
        node_lon=np.ascontiguousarray(node_lon),
        node_lat=np.ascontiguousarray(node_lat),
        edge_u=u.astype(np.int32),
        edge_v=v.astype(np.int32),
        edge_length_m=length.astype(np.float64),
        edge_class=pieces.cls[piece].astype(np.int16),
        edge_length_source=np.full(len(a), LENGTH_SOURCES.index("osm"), dtype=np.int8),
        edge_oneway=pieces.oneway[piece].astype(bool),
        geom_offsets=offsets,
        geom_lon=lon[geom],
        geom_lat=lat[geom],
        classes=classes,
        places=snapped,
        meta=_meta(path, ways, dropped_nodes),
    )
