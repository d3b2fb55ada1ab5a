"""Tests of the OpenStreetMap importer on hand-written extracts (tests/data/osm)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest
from scipy.sparse.csgraph import dijkstra

from routing.errors import InputError
from routing.network.geometry import haversine_m, polyline_length_m
from routing.network.graph import LENGTH_SOURCES, Place, RoadNetwork, read_network
from routing.network.osm_import import import_osm
from routing.network.places import MAX_SNAP_M, load_places
from routing.network.speeds import load_speeds

DATA = Path(__file__).resolve().parents[2] / "data" / "osm"
SMALL_TOWN = DATA / "small_town.osm"

# Node locations of small_town.osm (OSM id -> lon, lat); see the drawing in the file.
OSM_NODES: dict[int, tuple[float, float]] = {
    11: (101.555, 25.030),
    12: (101.560, 25.030),
    13: (101.5655, 25.030),
    21: (101.555, 25.0365),
    22: (101.560, 25.0365),
    23: (101.5655, 25.0365),
    31: (101.555, 25.043),
    32: (101.560, 25.043),
    33: (101.5655, 25.043),
    101: (101.5575, 25.0302),
    201: (101.545, 25.0365),
    202: (101.575, 25.0365),
    203: (101.570, 25.037),
    301: (101.5602, 25.0398),
    401: (101.5575, 25.022),
    402: (101.557, 25.033),
    403: (101.5578, 25.026),
    501: (101.5625, 25.040),
    601: (101.568, 25.028),
    701: (101.568, 25.045),
    801: (101.540, 25.048),
    802: (101.541, 25.049),
    803: (101.542, 25.0495),
    901: (101.585, 25.040),
    1001: (101.549, 25.039),
    1002: (101.551, 25.039),
    1003: (101.551, 25.041),
    1004: (101.549, 25.041),
    1101: (101.5655, 25.047),
    1201: (101.555, 25.047),
}

# The graph nodes: intersections and way ends of the kept ways, in the main component.
#   11 (ways 1, 3)   12 (1, 6)   13 (1, 4)   21 (3, 5)   22 (5, 6, 7)   23 (4, 5)
#   31 (2, 3)        32 (2, 7)   33 (2, 4, 11)          101 (1, 8: the crossing)
#   201, 202 (ends of way 5; 202 also starts way 13)     401, 402 (ends of way 8)
#   701 (end of way 11)          901 (end of way 13)
# Shape points 203, 301, 403 are not nodes; 501 (footway), 601 (private), 1001..1004
# (area), 1101 (construction), 1201 (motor_vehicle=no) belong to ignored ways; the island
# way 12 has the nodes 801 and 803, dropped with their component.
GRAPH_NODES = (11, 12, 13, 21, 22, 23, 31, 32, 33, 101, 201, 202, 401, 402, 701, 901)
# Edges: way 1 -> 3 (11-101, 101-12, 12-13), way 2 -> 2, way 3 -> 2, way 4 -> 2,
# way 5 -> 4 (201-21, 21-22, 22-23, 23-202), way 6 -> 1, way 7 -> 1, way 8 -> 2
# (401-101, 101-402), way 11 -> 1, way 13 -> 1: 19 edges.
N_EDGES = 19
# One-way: way 6 (oneway=yes), way 7 (oneway=-1), way 13 (motorway): 16 * 2 + 3 arcs.
N_ARCS = 35


@pytest.fixture(scope="module")
def town() -> RoadNetwork:
    return import_osm(SMALL_TOWN, places=[])


def node_of(net: RoadNetwork, osm_id: int) -> int:
    """The graph node at the location of an OSM node (-1 if there is none)."""
    lon, lat = OSM_NODES[osm_id]
    # osmium keeps coordinates to 1e-7 degrees (about 1 cm)
    close = np.isclose(net.node_lon, lon, rtol=0, atol=1e-7)
    hit = np.flatnonzero(close & np.isclose(net.node_lat, lat, rtol=0, atol=1e-7))
    assert len(hit) <= 1
    return int(hit[0]) if len(hit) else -1


def arc_set(net: RoadNetwork) -> set[tuple[int, int]]:
    tail, head, _ = net.arcs
    return set(zip(tail.tolist(), head.tolist(), strict=True))


def edges_between(net: RoadNetwork, a: int, b: int) -> list[int]:
    """Edges joining two OSM nodes, in either stored direction."""
    u, v = node_of(net, a), node_of(net, b)
    hit = ((net.edge_u == u) & (net.edge_v == v)) | ((net.edge_u == v) & (net.edge_v == u))
    return np.flatnonzero(hit).tolist()


def assert_geometry(net: RoadNetwork, edge: int, *osm_ids: int) -> None:
    """The edge's points are these OSM nodes, in this order."""
    expected = np.array([OSM_NODES[i] for i in osm_ids])
    got = net.edge_geometry(edge)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-7)


def write_osm(
    path: Path,
    nodes: dict[int, tuple[float, float]],
    ways: list[tuple[int, list[int], dict[str, str]]],
) -> Path:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lon, lat) in nodes.items():
        lines.append(f'  <node id="{nid}" version="1" lat="{lat}" lon="{lon}"/>')
    for wid, refs, tags in ways:
        lines.append(f'  <way id="{wid}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# ---- structure of the small town -------------------------------------------------------


def test_counts(town: RoadNetwork) -> None:
    assert town.n_nodes == len(GRAPH_NODES) == 16
    assert town.n_edges == N_EDGES
    assert len(town.arcs[0]) == N_ARCS
    assert sorted(node_of(town, i) for i in GRAPH_NODES) == list(range(16))


def test_meta(town: RoadNetwork) -> None:
    meta = town.meta
    assert meta["source"] == "osm" and town.source == "osm"
    assert meta["osm_file"] == "small_town.osm"
    assert "small_town.osm" in meta["description"]
    assert "© OpenStreetMap contributors, ODbL 1.0" in meta["description"]
    # Kept ways: 1-8, 11, 12 (the island, dropped later as a component) and 13.
    assert meta["ways"] == 11
    assert meta["dropped_nodes"] == 2  # 801 and 803
    assert meta["highway_counts"] == {
        "motorway": 1,
        "primary": 1,
        "residential": 3,
        "secondary": 1,
        "service": 1,
        "tertiary": 4,
    }


def test_classes_and_length_source(town: RoadNetwork) -> None:
    speeds = load_speeds()
    assert town.classes == speeds.classes
    assert (town.edge_length_source == LENGTH_SOURCES.index("osm")).all()
    names = [town.classes[c] for c in town.edge_class]
    assert names.count("township") == 9  # tertiary ways 1-4
    assert names.count("provincial") == 4  # primary way 5
    assert names.count("county") == 2  # secondary way 8
    assert names.count("village") == 2  # residential ways 6, 7
    assert names.count("service") == 1  # way 11
    assert names.count("expressway") == 1  # motorway way 13
    (e,) = edges_between(town, 33, 701)  # access=destination is kept
    assert town.classes[town.edge_class[e]] == "service"


def test_oneway_yes(town: RoadNetwork) -> None:
    (e,) = edges_between(town, 12, 22)
    assert town.edge_oneway[e]
    a, b = node_of(town, 12), node_of(town, 22)
    assert (town.edge_u[e], town.edge_v[e]) == (a, b)
    arcs = arc_set(town)
    assert (a, b) in arcs and (b, a) not in arcs


def test_oneway_reverse_flips_geometry(town: RoadNetwork) -> None:
    # Way 7 is listed 22 -> 301 -> 32 with oneway=-1: traffic runs 32 -> 22.
    (e,) = edges_between(town, 22, 32)
    a, b = node_of(town, 32), node_of(town, 22)
    assert town.edge_oneway[e]
    assert (town.edge_u[e], town.edge_v[e]) == (a, b)
    assert_geometry(town, e, 32, 301, 22)
    arcs = arc_set(town)
    assert (a, b) in arcs and (b, a) not in arcs


def test_motorway_implies_oneway(town: RoadNetwork) -> None:
    (e,) = edges_between(town, 202, 901)
    a, b = node_of(town, 202), node_of(town, 901)
    assert town.edge_oneway[e]
    arcs = arc_set(town)
    assert (a, b) in arcs and (b, a) not in arcs


def test_two_way_streets_have_both_arcs(town: RoadNetwork) -> None:
    arcs = arc_set(town)
    for x, y in [(11, 21), (21, 22), (31, 32), (13, 23)]:
        a, b = node_of(town, x), node_of(town, y)
        assert (a, b) in arcs and (b, a) in arcs


def test_ignored_ways(town: RoadNetwork) -> None:
    # footway, private service, area=yes, construction, motor_vehicle=no, island
    for osm_id in (501, 601, 1001, 1002, 1003, 1004, 1101, 1201, 801, 802, 803):
        assert node_of(town, osm_id) == -1
        lon, lat = OSM_NODES[osm_id]
        assert haversine_m(lon, lat, town.geom_lon, town.geom_lat).min() > 10.0
    assert "footway" not in town.meta["highway_counts"]
    assert "construction" not in town.meta["highway_counts"]


def test_split_at_intersections(town: RoadNetwork) -> None:
    n101 = node_of(town, 101)
    # 101 is a shape point of way 1 and of way 8: the crossing splits both.
    assert n101 >= 0
    touching = np.flatnonzero((town.edge_u == n101) | (town.edge_v == n101))
    assert len(touching) == 4
    for other in (11, 12, 401, 402):
        assert len(edges_between(town, 101, other)) == 1
    # Way 1 (11 - 101 - 12 - 13) became three edges; 11 - 12 is not an edge.
    assert edges_between(town, 11, 12) == []
    assert len(edges_between(town, 12, 13)) == 1


def test_split_edge_keeps_shape_points(town: RoadNetwork) -> None:
    (e,) = edges_between(town, 401, 101)
    assert_geometry(town, e, 401, 403, 101)
    (e,) = edges_between(town, 23, 202)
    assert_geometry(town, e, 23, 203, 202)
    # Edge geometries start at u and end at v.
    for i in range(town.n_edges):
        g = town.edge_geometry(i)
        assert g[0].tolist() == [town.node_lon[town.edge_u[i]], town.node_lat[town.edge_u[i]]]
        assert g[-1].tolist() == [town.node_lon[town.edge_v[i]], town.node_lat[town.edge_v[i]]]
    assert town.geom_offsets[-1] == len(town.geom_lon) == len(town.geom_lat)
    # 19 edges with 2 points, plus one shape point each in 4 of them (403, 203, 301).
    assert len(town.geom_lon) == 2 * N_EDGES + 3


def test_lengths_follow_geometry(town: RoadNetwork) -> None:
    for i in range(town.n_edges):
        g = town.edge_geometry(i)
        assert town.edge_length_m[i] == pytest.approx(
            polyline_length_m(g[:, 0], g[:, 1]), rel=1e-12
        )
    (e,) = edges_between(town, 11, 101)
    direct = float(haversine_m(*OSM_NODES[11], *OSM_NODES[101]))
    assert town.edge_length_m[e] == pytest.approx(direct, rel=1e-12)
    assert 240 < direct < 260
    (e,) = edges_between(town, 401, 101)
    assert town.edge_length_m[e] > float(haversine_m(*OSM_NODES[401], *OSM_NODES[101]))


def test_island_dropped(town: RoadNetwork) -> None:
    tail, head, _ = town.arcs
    g = nx.Graph()
    g.add_edges_from(zip(tail.tolist(), head.tolist(), strict=True))
    assert nx.is_connected(g) and g.number_of_nodes() == town.n_nodes


# ---- places ------------------------------------------------------------------------------


def make_place(pid: str, lon: float | None, lat: float | None, notes: str = "") -> Place:
    return Place(
        id=pid,
        kind="village",
        name_zh=pid,
        name_pinyin=pid,
        county_code="532301",
        township_code="532301101",
        lon=lon,
        lat=lat,
        notes=notes,
    )


def test_places_snapped() -> None:
    places = [
        make_place("WH-CX", 101.565456, 25.036751),
        make_place("FAR", 101.638317, 24.690619, notes="双柏 seat"),  # ~38 km away
        make_place("NOCOORD", None, None),
        make_place("NEAR-ISLAND", 101.5405, 25.0485),  # 70 m from the dropped island
    ]
    net = import_osm(SMALL_TOWN, places=places)
    wh, far, nocoord, near_island = net.places
    assert wh.node == node_of(net, 23) and wh.located
    assert wh.snap_m == pytest.approx(
        float(haversine_m(101.565456, 25.036751, *OSM_NODES[23])), rel=1e-9
    )
    assert wh.snap_m < 50
    assert far.node == -1 and not far.located
    assert far.notes.startswith("双柏 seat; outside the OSM extract small_town.osm")
    assert nocoord.node == -1 and nocoord.notes == ""
    # The island is gone: the place snaps to the main network (201, 1.4 km away).
    assert near_island.node == node_of(net, 201)
    assert 1_000 < near_island.snap_m < MAX_SNAP_M
    assert [p.id for p in net.located_places()] == ["WH-CX", "NEAR-ISLAND"]
    assert net.place("WH-CX") is wh


def test_default_places() -> None:
    bundled = load_places()
    net = import_osm(SMALL_TOWN)
    assert [p.id for p in net.places] == [p.id for p in bundled]
    by_id = {p.id: p for p in net.places}
    assert by_id["WH-CX"].node == node_of(net, 23)
    assert by_id["532301101"].node == node_of(net, 23)  # 鹿城镇, the same point
    for p in bundled:
        got = by_id[p.id]
        if p.lon is None or p.lat is None:
            assert got.node == -1
            continue
        d = haversine_m(p.lon, p.lat, net.node_lon, net.node_lat)
        if d.min() <= MAX_SNAP_M:
            assert got.node == int(np.argmin(d))
            assert got.snap_m == pytest.approx(float(d.min()), rel=1e-9)
        else:
            assert got.node == -1
            assert "outside the OSM extract" in got.notes
    assert {p.id for p in net.located_places()} >= {"WH-CX", "532301101"}


# ---- tagging rules on small generated extracts ---------------------------------------------


def test_tag_rules(tmp_path: Path) -> None:
    nodes = {i: (101.55 + 0.001 * i, 25.03 + 0.0005 * (i % 3)) for i in range(1, 13)}
    ways = [
        (1, [1, 2, 3, 4, 5, 6], {"highway": "tertiary"}),  # the spine
        (2, [2, 7], {"highway": "motorway", "oneway": "no"}),  # explicit two-way
        (3, [3, 8], {"highway": "service", "access": "delivery"}),  # kept
        (4, [4, 9], {"highway": "service", "access": "no", "motor_vehicle": "yes"}),  # kept
        (5, [5, 10], {"highway": "residential", "access": "private"}),  # dropped
        (6, [6, 11], {"highway": "proposed"}),  # dropped
        (7, [6, 12], {"highway": "unclassified", "oneway": "true"}),
    ]
    net = import_osm(write_osm(tmp_path / "rules.osm", nodes, ways), places=[])

    def node(i: int) -> int:
        # osmium keeps coordinates to 1e-7 degrees
        lon, lat = nodes[i]
        close = np.isclose(net.node_lon, lon, atol=1e-7) & np.isclose(net.node_lat, lat, atol=1e-7)
        return int(np.flatnonzero(close)[0])

    # nodes: 1, 6 (spine ends), 2, 3, 4 (junctions), 7, 8, 9, 12; 5 is a shape point.
    assert net.n_nodes == 9 and net.n_edges == 8
    assert net.meta["highway_counts"] == {
        "motorway": 1,
        "service": 2,
        "tertiary": 1,
        "unclassified": 1,
    }
    arcs = arc_set(net)
    assert (node(2), node(7)) in arcs and (node(7), node(2)) in arcs
    assert (node(6), node(12)) in arcs and (node(12), node(6)) not in arcs


def test_roundabout_loop(tmp_path: Path) -> None:
    # A closed roundabout 1-2-3-4-1 touched by one approach road at node 1.
    nodes = {
        1: (101.550, 25.030),
        2: (101.5505, 25.0305),
        3: (101.550, 25.031),
        4: (101.5495, 25.0305),
        5: (101.550, 25.025),
    }
    ways = [
        (1, [1, 2, 3, 4, 1], {"highway": "primary", "junction": "roundabout"}),
        (2, [5, 1], {"highway": "primary"}),
    ]
    net = import_osm(write_osm(tmp_path / "roundabout.osm", nodes, ways), places=[])
    # The loop is split at its middle point (3) so no edge starts and ends at one node.
    assert net.n_nodes == 3 and net.n_edges == 3
    assert not (net.edge_u == net.edge_v).any()
    assert int(net.edge_oneway.sum()) == 2
    ring = np.flatnonzero(net.edge_oneway)
    assert sum(len(net.edge_geometry(int(e))) for e in ring) == 6  # 1 2 3 + 3 4 1


def test_missing_nodes_and_repeated_refs(tmp_path: Path) -> None:
    nodes = {i: (101.55 + 0.001 * i, 25.03) for i in (1, 2, 3, 5, 6)}
    ways = [
        # 4 is not in the file: the way is cut there; 2 is listed twice in a row.
        (1, [1, 2, 2, 3, 4, 5, 6], {"highway": "residential"}),
        (2, [3, 5], {"highway": "residential"}),
    ]
    net = import_osm(write_osm(tmp_path / "cut.osm", nodes, ways), places=[])
    assert (net.edge_length_m > 0).all()
    # Pieces 1-2-3 and 5-6 plus way 2 (3-5): nodes 1, 3, 5, 6; edges 1-3, 5-6, 3-5.
    assert net.n_nodes == 4 and net.n_edges == 3
    assert len(net.geom_lon) == 3 + 2 + 2


def test_pbf_gives_the_same_network(tmp_path: Path, town: RoadNetwork) -> None:
    pbf = tmp_path / "small_town.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    try:
        for obj in osmium.FileProcessor(str(SMALL_TOWN)):
            writer.add(obj)
    finally:
        writer.close()
    net = import_osm(pbf, places=[])
    assert net.meta["osm_file"] == "small_town.osm.pbf"
    for name in ("edge_u", "edge_v", "edge_oneway", "edge_class", "geom_offsets"):
        assert np.array_equal(getattr(net, name), getattr(town, name)), name
    np.testing.assert_allclose(net.edge_length_m, town.edge_length_m, rtol=1e-6)


def test_progress_messages() -> None:
    messages: list[str] = []
    import_osm(SMALL_TOWN, places=[], progress=messages.append)
    assert messages and all(isinstance(m, str) for m in messages)
    assert any("16 nodes" in m for m in messages)


# ---- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken.osm", "not a readable OSM file"),
        ("no_roads.osm", "no drivable roads"),
        ("does_not_exist.osm", "does not exist"),
    ],
)
def test_errors(name: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        import_osm(DATA / name)
    assert info.value.field == "osm_file"
    assert reason in info.value.reason


def test_error_for_unknown_format_and_directory(tmp_path: Path) -> None:
    text = tmp_path / "roads.txt"
    text.write_text("not osm")
    with pytest.raises(InputError, match="format") as info:
        import_osm(text)
    assert info.value.field == "osm_file"
    with pytest.raises(InputError, match="not a file"):
        import_osm(tmp_path)
    garbage = tmp_path / "roads.osm.pbf"
    garbage.write_bytes(b"\x00\x01garbage" * 50)
    with pytest.raises(InputError, match="not a readable OSM file"):
        import_osm(garbage)


def test_error_when_all_roads_lack_locations(tmp_path: Path) -> None:
    path = write_osm(tmp_path / "refs_only.osm", {}, [(1, [1, 2, 3], {"highway": "primary"})])
    with pytest.raises(InputError, match="no drivable roads") as info:
        import_osm(path)
    assert info.value.field == "osm_file"


# ---- persistence and routing ----------------------------------------------------------------


def test_save_and_read_round_trip(tmp_path: Path) -> None:
    net = import_osm(SMALL_TOWN)
    path = tmp_path / "imported" / "network.npz"
    net.save(path)
    back = read_network(path)
    for name in (
        "node_lon",
        "node_lat",
        "edge_u",
        "edge_v",
        "edge_length_m",
        "edge_class",
        "edge_length_source",
        "edge_oneway",
        "geom_offsets",
        "geom_lon",
        "geom_lat",
    ):
        a, b = getattr(net, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert back.classes == net.classes
    assert back.meta == net.meta
    assert [p.as_dict() for p in back.places] == [p.as_dict() for p in net.places]
    assert back.place("WH-CX").node == net.place("WH-CX").node


@pytest.mark.parametrize("profile", ["van", "truck", "motorbike"])
def test_csr_shortest_paths_match_networkx(town: RoadNetwork, profile: str) -> None:
    speeds = load_speeds()
    mps = speeds.speeds_mps(profile)
    tail, head, edge = town.arcs
    g = nx.DiGraph()
    g.add_nodes_from(range(town.n_nodes))
    for t, h, e in zip(tail.tolist(), head.tolist(), edge.tolist(), strict=True):
        speed = mps[speeds.class_index(town.classes[town.edge_class[e]])]
        if speed <= 0:
            continue
        w = float(town.edge_length_m[e] / speed)
        if not g.has_edge(t, h) or g[t][h]["weight"] > w:
            g.add_edge(t, h, weight=w)
    dist = dijkstra(town.csr(profile), directed=True)
    for source, lengths in nx.all_pairs_dijkstra_path_length(g):
        expected = np.full(town.n_nodes, np.inf)
        for target, d in lengths.items():
            expected[target] = d
        np.testing.assert_allclose(dist[source], expected, rtol=1e-9)
    # One-way streets make some trips longer than their reverse.
    a, b = node_of(town, 12), node_of(town, 22)
    assert dist[a, b] < dist[b, a] < np.inf
    # 901 is reached by the motorway only: not by motorbike, and nobody comes back.
    n901 = node_of(town, 901)
    assert np.isinf(dist[n901, a])
    assert np.isinf(dist[a, n901]) == (profile == "motorbike")
