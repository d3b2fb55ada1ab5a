"""Snapping, matrices and routes on the modeled network, checked against networkx."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from routing.errors import InputError
from routing.network import RoadNetwork, resolve, shortest_route, travel_matrix
from routing.network.geometry import haversine_m
from routing.network.graph import to_networkx
from routing.network.matrix import parse_location


def _ids(network: RoadNetwork) -> list[str]:
    return [p.id for p in network.located_places()]


def test_snapping_agrees_with_brute_force(network: RoadNetwork) -> None:
    rng = np.random.default_rng(7)
    lon = rng.uniform(101.0, 102.3, 200)
    lat = rng.uniform(24.7, 25.9, 200)
    nodes, dist = network.node_index.nearest(lon, lat)
    for i in range(len(lon)):
        d = haversine_m(lon[i], lat[i], network.node_lon, network.node_lat)
        # The KD-tree ranks in a local projection: allow a metre-level tie.
        assert dist[i] <= d.min() + 50.0
        assert abs(dist[i] - d[nodes[i]]) < 1e-6


def test_point_outside_the_prefecture_is_named(network: RoadNetwork) -> None:
    with pytest.raises(InputError) as err:
        resolve(network, ["WH-CX", (116.397, 39.909)], ["from", "stop 2"])
    assert err.value.field == "stop 2"
    assert "outside Chuxiong prefecture" in err.value.reason


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("NO-SUCH-PLACE", "unknown place id"),
        ("532329105", "has no coordinates"),  # 白路镇 is unlocated
        ((float("nan"), 25.0), "finite"),
        ((25.0, 101.5), "outside Chuxiong"),  # lat, lon swapped
    ],
)
def test_bad_locations(network: RoadNetwork, location: object, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        resolve(network, [location], ["stop"])  # type: ignore[list-item]


def test_parse_location() -> None:
    assert parse_location("101.5,25.0") == (101.5, 25.0)
    assert parse_location("WH-CX") == "WH-CX"
    assert parse_location("a,b") == "a,b"


@pytest.mark.parametrize("profile", ["truck", "van", "motorbike"])
def test_matrix_agrees_with_networkx_dijkstra(network: RoadNetwork, profile: str) -> None:
    ids = _ids(network)
    waypoints = resolve(network, ids)
    m = travel_matrix(network, waypoints, profile=profile)
    graph = nx.DiGraph()
    for a, b, data in to_networkx(network, profile).edges(data=True):
        if not graph.has_edge(a, b) or graph[a][b]["travel_time_s"] > data["travel_time_s"]:
            graph.add_edge(a, b, **data)
    rng = np.random.default_rng(11)
    for i, j in rng.integers(0, len(ids), size=(60, 2)):
        a, b = waypoints[i].node, waypoints[j].node
        expected_s = nx.dijkstra_path_length(graph, a, b, weight="travel_time_s")
        assert m.durations_s[i, j] == pytest.approx(expected_s, abs=0.51)
        path = nx.dijkstra_path(graph, a, b, weight="travel_time_s")
        expected_m = sum(graph[u][v]["length_m"] for u, v in itertools.pairwise(path))
        assert m.distances_m[i, j] == pytest.approx(expected_m, abs=0.51)


def test_matrix_triangle_inequality_and_diagonal(network: RoadNetwork) -> None:
    waypoints = resolve(network, _ids(network))
    d = travel_matrix(network, waypoints, profile="van").durations_s
    assert (d >= 0).all()
    assert (np.diag(d) == 0).all()
    # d[i, k] <= d[i, j] + d[j, k] up to rounding of each term to whole seconds.
    via = (d[:, :, None] + d[None, :, :]).min(axis=1)
    assert (d <= via + 2).all()


def test_matrix_with_points_adds_access_legs(network: RoadNetwork) -> None:
    hub = network.place("HUB-532326")
    near_hub = (hub.lon + 0.01, hub.lat)  # about 1 km east of the Dayao hub
    a, b, c = resolve(network, ["WH-CX", "HUB-532326", near_hub])
    assert c.node == b.node and 900 < c.access_m < 1100
    m = travel_matrix(network, [a], [b, c], profile="van")
    assert m.durations_s[0, 1] > m.durations_s[0, 0]
    assert m.distances_m[0, 1] - m.distances_m[0, 0] == pytest.approx(
        c.access_m * network.meta["circuity"]["factors"]["access"], abs=1
    )
    assert m.durations_s.dtype == np.int64


def test_rectangular_and_empty_matrices(network: RoadNetwork) -> None:
    w = resolve(network, _ids(network)[:5])
    assert travel_matrix(network, w[:2], w, profile="truck").durations_s.shape == (2, 5)
    assert travel_matrix(network, [], w, profile="truck").durations_s.shape == (0, 5)


def test_unknown_profile(network: RoadNetwork) -> None:
    w = resolve(network, ["WH-CX"])
    with pytest.raises(InputError, match="unknown profile 'bicycle'"):
        travel_matrix(network, w, profile="bicycle")


def test_route_matches_the_matrix_and_has_geometry(network: RoadNetwork) -> None:
    a, b = resolve(network, ["WH-CX", "532327101"])
    route = shortest_route(network, a, b, profile="truck")
    m = travel_matrix(network, [a], [b], profile="truck")
    assert abs(route.duration_s - m.durations_s[0, 0]) <= 1
    assert abs(route.distance_m - m.distances_m[0, 0]) <= 1
    coords = route.geometry["coordinates"]
    assert route.geometry["type"] == "LineString"
    assert coords[0] == pytest.approx([a.lon, a.lat]) and coords[-1] == pytest.approx(
        [b.lon, b.lat]
    )
    assert route.nodes[0] == a.node and route.nodes[-1] == b.node


def test_route_to_the_same_place_is_empty(network: RoadNetwork) -> None:
    a, b = resolve(network, ["WH-CX", "WH-CX"])
    route = shortest_route(network, a, b)
    assert route.distance_m == 0 and route.duration_s == 0


def test_closed_road_is_routed_around(network) -> None:
    """A closed segment is gone from routes and matrices; nodes and places keep their ids."""
    from routing.network import resolve, shortest_route, travel_matrix

    a, b = resolve(network, ["HUB-532325", "532325103"])
    before = shortest_route(network, a, b, "van")
    closed = network.without_edges(before.edges[:1])
    assert closed.n_edges == network.n_edges - 1 and closed.n_nodes == network.n_nodes
    assert closed.digest != network.digest
    ca, cb = resolve(closed, ["HUB-532325", "532325103"])
    after = shortest_route(closed, ca, cb, "van")
    gone = {int(network.edge_u[before.edges[0]]), int(network.edge_v[before.edges[0]])}
    driven = [{int(closed.edge_u[e]), int(closed.edge_v[e])} for e in after.edges]
    parallel = sum(
        1
        for e in range(network.n_edges)
        if {int(network.edge_u[e]), int(network.edge_v[e])} == gone
    )
    assert parallel > 1 or gone not in driven
    assert after.duration_s > before.duration_s
    m = travel_matrix(closed, [ca, cb], profile="van")
    assert m.durations_s[0, 1] == after.duration_s
    assert network.without_edges([]) is network
